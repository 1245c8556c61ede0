/**
 * Samplers, sigma schedules and seeded noise, in k-diffusion's formulation, with A1111's choices
 * where it makes them (which schedule "Automatic" means, which noise each sampler draws). Pure
 * maths: the pipeline supplies the model as a denoiser.
 *
 * How the pipeline uses it:
 *
 *   const discretization = Discretization.fromConfig(await readSchedulerConfig(`${dir}/scheduler/scheduler_config.json`));
 *   const definition = getSamplerDefinition(settings.sampler);
 *   const sigmas = samplerSigmas(settings.sampler, settings.schedule, discretization, settings.steps, architecture);
 *   const seeds = images.map((_, i) => settings.seed + i);
 *   const imageNoise = new ImageNoise({ source: settings.rngSource, seeds, shape: [4, h, w], ... });
 *   const x = imageNoise.first().map((n) => n * sigmas[0]);              // txt2img starts at σ_max
 *   const denoise: Denoiser = async (x, sigma) => {
 *     const { cSkip, cOut, cIn } = denoiserScalings(discretization.predictionType, sigma);
 *     // out = UNet(cIn·x, t(σ)) with CFG; return cSkip·x + cOut·out
 *   };
 *   const noise = definition.noise === 'brownian' ? brownianNoise(seeds, 4 * h * w, sigmas) : sequentialNoise(imageNoise);
 *   const latents = await definition.sample(denoise, x, { sigmas, noise, onStep, signal });
 *
 * Contracts, in short (details in sampling.ts):
 * - Denoiser `(x, σ) => Promise<x0 estimate>`, whole batch; must not modify x; may reuse its output.
 * - Sampler `(denoise, x, ctx) => Promise<x>`; ctx = { sigmas, noise, onStep?, signal? }. x is not
 *   modified. Steps are counted over the sigmas given (sigmas.length − 1), whatever the number of
 *   model calls (Heun, DPM2, DPM++ SDE, DPM++ 2S a and Restart call twice).
 * - onStep(i, x, denoised) after step i (0-based); buffers valid only during the call.
 * - signal is checked before each step; an aborted signal throws its reason.
 * - Noise: ctx.noise(σ, σ_next), k-diffusion's noise_sampler; see random/.
 */
import { SAMPLER_NOISE, type Architecture, type SamplerId, type ScheduleId } from '@easel/schema';
import type { Discretization } from './discretization.js';
import { dpm2, dpm2Ancestral } from './dpm2.js';
import { dpmpp2m, dpmpp2mSde, dpmpp2mSdeHeun } from './dpmpp-2m.js';
import { dpmpp2sAncestral } from './dpmpp-2s-ancestral.js';
import { dpmpp3mSde } from './dpmpp-3m-sde.js';
import { dpmppSde } from './dpmpp-sde.js';
import { ddim, euler, eulerAncestral } from './euler.js';
import { heun } from './heun.js';
import { lcm } from './lcm.js';
import { lms } from './lms.js';
import { restart } from './restart.js';
import type { Sampler } from './sampling.js';
import { getSigmas } from './schedules.js';

interface SamplerTableEntry {
  sample: Sampler;
  /** A1111's discard_next_to_last_sigma: schedule steps + 1 sigmas and drop the next-to-last. */
  discardPenultimateSigma?: boolean;
}

export interface SamplerDefinition extends SamplerTableEntry {
  /** Which noise it adds after the initial noise (SAMPLER_NOISE). */
  noise: (typeof SAMPLER_NOISE)[SamplerId];
}

// A1111 1.9+'s sampler table, modules/sd_samplers_kdiffusion.py.
const SAMPLER_TABLE: Record<SamplerId, SamplerTableEntry> = {
  euler: { sample: euler },
  euler_a: { sample: eulerAncestral },
  heun: { sample: heun },
  lms: { sample: lms },
  dpm2: { sample: dpm2, discardPenultimateSigma: true },
  dpm2_a: { sample: dpm2Ancestral, discardPenultimateSigma: true },
  dpmpp_2s_a: { sample: dpmpp2sAncestral },
  dpmpp_2m: { sample: dpmpp2m },
  dpmpp_sde: { sample: dpmppSde },
  dpmpp_2m_sde: { sample: dpmpp2mSde },
  dpmpp_2m_sde_heun: { sample: dpmpp2mSdeHeun },
  dpmpp_3m_sde: { sample: dpmpp3mSde, discardPenultimateSigma: true },
  restart: { sample: restart },
  ddim: { sample: ddim },
  lcm: { sample: lcm },
};

export function getSamplerDefinition(id: SamplerId): SamplerDefinition {
  const entry = Object.hasOwn(SAMPLER_TABLE, id) ? SAMPLER_TABLE[id] : undefined;
  if (!entry) throw new RangeError(`unknown sampler "${String(id)}" (known: ${Object.keys(SAMPLER_TABLE).join(', ')})`);
  return { ...entry, noise: SAMPLER_NOISE[id] };
}

export function getSampler(id: SamplerId): Sampler {
  return getSamplerDefinition(id).sample;
}

/**
 * The sigmas a sampler runs for `steps` steps of a schedule, as A1111 prepares them: for the
 * samplers that discard the next-to-last sigma, steps + 1 are scheduled and that one dropped, so
 * that the count of steps is still `steps`.
 */
export function samplerSigmas(
  id: SamplerId,
  schedule: ScheduleId,
  discretization: Discretization,
  steps: number,
  architecture?: Architecture,
): Float64Array {
  if (!getSamplerDefinition(id).discardPenultimateSigma) return getSigmas(schedule, discretization, steps, architecture);
  const sigmas = getSigmas(schedule, discretization, steps + 1, architecture);
  const kept = new Float64Array(sigmas.length - 1);
  kept.set(sigmas.subarray(0, sigmas.length - 2));
  kept[kept.length - 1] = sigmas[sigmas.length - 1];
  return kept;
}

export { Discretization } from './discretization.js';
export { BrownianTree } from './random/brownian-tree.js';
export { ImageNoise, slerpNoise, type ImageNoiseOptions } from './random/image-noise.js';
export { brownianNoise, samplerNoise, sequentialNoise, type NoiseSource, type PrefetchingNoiseSource } from './random/noise-sources.js';
export { createGenerator, randn, type NormalGenerator, type RandnOptions } from './random/randn.js';
export { ancestralStep, type Denoiser, type Sampler, type SamplerContext, type StepCallback } from './sampling.js';
export { denoiserScalings, type DenoiserScalings } from './scalings.js';
export {
  parseSchedulerConfig,
  readSchedulerConfig,
  SchedulerConfigError,
  type PredictionType,
  type SchedulerConfig,
} from './scheduler-config.js';
export {
  alignYourStepsSigmas,
  betaSigmas,
  exponentialSigmas,
  getSigmas,
  karrasSigmas,
  klOptimalSigmas,
  normalSigmas,
  polyexponentialSigmas,
  sgmUniformSigmas,
  simpleSigmas,
  uniformSigmas,
} from './schedules.js';
export { restartMoves } from './restart.js';
export {
  ddim,
  dpm2,
  dpm2Ancestral,
  dpmpp2m,
  dpmpp2mSde,
  dpmpp2mSdeHeun,
  dpmpp2sAncestral,
  dpmpp3mSde,
  dpmppSde,
  euler,
  eulerAncestral,
  heun,
  lcm,
  lms,
  restart,
};
