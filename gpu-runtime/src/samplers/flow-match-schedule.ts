import { z } from 'zod';
import { SchedulerConfigError } from './scheduler-config.js';

/**
 * The noise levels of a rectified-flow model (Flux), in the shape of diffusers'
 * FlowMatchEulerDiscreteScheduler as FluxPipeline drives it.
 *
 * A flow model sees x_σ = (1 − σ)·x0 + σ·ε, with σ from 1 (pure noise) to 0 (the image). For n
 * steps the unshifted levels are linspace(1, 1/n, n), then 0. A shift moves them towards 1, where
 * large images need more steps:
 *
 *   fixed shift s (schnell: s = 1, no change)   σ' = s·σ / (1 + (s − 1)·σ)
 *   dynamic shift (dev)                          σ' = e^μ / (e^μ + 1/σ − 1)
 *
 * with μ interpolated linearly in the number of image tokens, from base_shift (0.5) at
 * base_image_seq_len (256 tokens: 256×256 pixels) to max_shift (1.15) at max_image_seq_len
 * (4096 tokens: 1024×1024), and extrapolated beyond. The two agree for s = e^μ.
 */
export interface FlowMatchConfig {
  /** Training steps; the transformer's timestep is σ (diffusers multiplies by this inside the model). */
  numTrainTimesteps: number;
  shift: number;
  useDynamicShifting: boolean;
  baseShift: number;
  maxShift: number;
  baseImageSeqLen: number;
  maxImageSeqLen: number;
}

// Defaults are diffusers' own, for configs that leave a field out.
const RawFlowMatchConfig = z.object({
  num_train_timesteps: z.number().int().min(1).default(1000),
  shift: z.number().positive().default(1),
  use_dynamic_shifting: z.boolean().default(false),
  base_shift: z.number().default(0.5),
  max_shift: z.number().default(1.15),
  base_image_seq_len: z.number().int().positive().default(256),
  max_image_seq_len: z.number().int().positive().default(4096),
});

/** FLUX.1 [schnell]'s scheduler_config.json: no shift. */
export const SCHNELL_FLOW_CONFIG: FlowMatchConfig = parseFlowMatchConfig({ use_dynamic_shifting: false, shift: 1 });
/** FLUX.1 [dev]'s scheduler_config.json: the resolution-dependent shift. */
export const DEV_FLOW_CONFIG: FlowMatchConfig = parseFlowMatchConfig({ use_dynamic_shifting: true, shift: 3 });

export function parseFlowMatchConfig(json: unknown): FlowMatchConfig {
  const parsed = RawFlowMatchConfig.safeParse(json);
  if (!parsed.success) throw new SchedulerConfigError(`invalid flow-matching scheduler config: ${z.prettifyError(parsed.error)}`);
  const raw = parsed.data;
  if (raw.max_image_seq_len <= raw.base_image_seq_len) {
    throw new SchedulerConfigError(`invalid flow-matching scheduler config: max_image_seq_len (${raw.max_image_seq_len}) must exceed base_image_seq_len (${raw.base_image_seq_len})`);
  }
  return {
    numTrainTimesteps: raw.num_train_timesteps,
    shift: raw.shift,
    useDynamicShifting: raw.use_dynamic_shifting,
    baseShift: raw.base_shift,
    maxShift: raw.max_shift,
    baseImageSeqLen: raw.base_image_seq_len,
    maxImageSeqLen: raw.max_image_seq_len,
  };
}

/** μ for an image of `imageTokens` packed tokens ((height/16)·(width/16)). */
export function flowShiftMu(config: FlowMatchConfig, imageTokens: number): number {
  const slope = (config.maxShift - config.baseShift) / (config.maxImageSeqLen - config.baseImageSeqLen);
  return config.baseShift + slope * (imageTokens - config.baseImageSeqLen);
}

/** steps + 1 decreasing levels from (shifted) 1 down to 0. */
export function flowMatchSigmas(config: FlowMatchConfig, steps: number, imageTokens: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a whole number of at least 1, got ${steps}`);
  const mu = flowShiftMu(config, imageTokens);
  const shifted = (sigma: number) =>
    config.useDynamicShifting ? Math.exp(mu) / (Math.exp(mu) + 1 / sigma - 1) : (config.shift * sigma) / (1 + (config.shift - 1) * sigma);
  const sigmas = new Float64Array(steps + 1);
  // linspace(1, 1/n, n): σ_i = 1 − i·(1 − 1/n)/(n − 1), which is (n − i)/n
  for (let i = 0; i < steps; i++) sigmas[i] = shifted((steps - i) / steps);
  return sigmas;
}
