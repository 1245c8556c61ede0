/**
 * Samplers, sigma schedules and seeded noise, in k-diffusion's formulation. Pure maths: the
 * pipeline supplies the model as a denoiser.
 *
 * How the pipeline uses it:
 *
 *   const discretization = Discretization.fromConfig(await readSchedulerConfig(`${dir}/scheduler/scheduler_config.json`));
 *   const sigmas = getSigmas(settings.schedule, discretization, settings.steps);  // steps + 1, ending in 0
 *   const seeds = images.map((_, i) => settings.seed + i);
 *   const x = initialNoise(seeds, 4 * h * w).map((n) => n * sigmas[0]);     // txt2img starts at σ_max
 *   const denoise: Denoiser = async (x, sigma) => {
 *     const { cSkip, cOut, cIn } = denoiserScalings(discretization.predictionType, sigma);
 *     const t = discretization.sigmaToTimestep(sigma);       // round it for an int64 timestep input
 *     // out = UNet(cIn·x, t) with CFG; return cSkip·x + cOut·out
 *   };
 *   const latents = await getSampler(settings.sampler)(denoise, x, {
 *     sigmas, noise: samplerNoise(seeds, 4 * h * w), onStep, signal,
 *   });
 *
 * Contracts, in short (details in sampling.ts):
 * - Denoiser `(x, σ) => Promise<x0 estimate>`, whole batch; must not modify x; may reuse its output.
 * - Sampler `(denoise, x, ctx) => Promise<x>`; ctx = { sigmas, noise, onStep?, signal? }. x is not
 *   modified. Steps are counted over the sigmas given (sigmas.length − 1), whatever the number of
 *   model calls (Heun and DPM++ SDE call twice).
 * - onStep(i, x, denoised) after step i (0-based); buffers valid only during the call.
 * - signal is checked before each step; an aborted signal throws its reason.
 * - Noise: Philox4x32-10 + the normal quantile, random access by (seed, stream, index); image i
 *   uses seed + i, per-step noise is seeded per (image seed, step), so batches do not change images.
 */
import type { SamplerId } from '@easel/schema';
import { dpmpp2m, dpmpp2mSde } from './dpmpp-2m.js';
import { dpmppSde } from './dpmpp-sde.js';
import { ddim, euler, eulerAncestral } from './euler.js';
import { heun } from './heun.js';
import { lcm } from './lcm.js';
import type { Sampler } from './sampling.js';

const SAMPLER_FUNCTIONS: Record<SamplerId, Sampler> = {
  euler,
  euler_a: eulerAncestral,
  heun,
  dpmpp_2m: dpmpp2m,
  dpmpp_2m_sde: dpmpp2mSde,
  dpmpp_sde: dpmppSde,
  ddim,
  lcm,
};

export function getSampler(id: SamplerId): Sampler {
  const sampler = Object.hasOwn(SAMPLER_FUNCTIONS, id) ? SAMPLER_FUNCTIONS[id] : undefined;
  if (!sampler) throw new RangeError(`unknown sampler "${String(id)}" (known: ${Object.keys(SAMPLER_FUNCTIONS).join(', ')})`);
  return sampler;
}

export { Discretization } from './discretization.js';
export {
  batchNoise,
  fillNormal,
  initialNoise,
  INITIAL_NOISE_STREAM,
  MAX_DRAWS_PER_STEP,
  normalAt,
  samplerNoise,
  samplerNoiseStream,
  type NoiseSource,
} from './noise.js';
export { ancestralStep, type Denoiser, type Sampler, type SamplerContext, type StepCallback } from './sampling.js';
export { denoiserScalings, type DenoiserScalings } from './scalings.js';
export {
  parseSchedulerConfig,
  readSchedulerConfig,
  SchedulerConfigError,
  type PredictionType,
  type SchedulerConfig,
} from './scheduler-config.js';
export { exponentialSigmas, getSigmas, karrasSigmas, normalSigmas, sgmUniformSigmas } from './schedules.js';
export { ddim, dpmpp2m, dpmpp2mSde, dpmppSde, euler, eulerAncestral, heun, lcm };
