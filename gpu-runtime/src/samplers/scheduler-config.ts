import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The part of a diffusers `scheduler/scheduler_config.json` that decides the model's noise levels
 * and what its UNet predicts. Every scheduler class diffusers writes there (DDIM, Euler, PNDM, …)
 * shares these fields; the rest (timestep_spacing, steps_offset, …) configures diffusers' own
 * step schedules, which k-diffusion-style sampling replaces, as A1111 and ComfyUI do.
 */
export interface SchedulerConfig {
  numTrainTimesteps: number;
  /** β for each training timestep, from beta_start/beta_end/beta_schedule or trained_betas. */
  betas: Float64Array;
  predictionType: PredictionType;
}

export const PREDICTION_TYPES = ['epsilon', 'v_prediction'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

export const BETA_SCHEDULES = ['linear', 'scaled_linear'] as const;

/** A scheduler config we cannot use: the model folder is broken or of a kind we do not run. */
export class SchedulerConfigError extends Error {
  readonly code = 'MODEL_INVALID'; // as ModelLoadError's code for an unusable file

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SchedulerConfigError';
  }
}

// Defaults are diffusers' own, for configs that leave a field out.
const RawSchedulerConfig = z.object({
  num_train_timesteps: z.number().int().min(2).default(1000),
  beta_start: z.number().positive().lt(1).default(0.0001),
  beta_end: z.number().positive().lt(1).default(0.02),
  beta_schedule: z.string().default('linear'),
  trained_betas: z.array(z.number().positive().lt(1)).nullish(),
  prediction_type: z.string().default('epsilon'),
  rescale_betas_zero_snr: z.boolean().default(false),
});

/** Validates a parsed scheduler_config.json and derives its β table. */
export function parseSchedulerConfig(json: unknown): SchedulerConfig {
  const parsed = RawSchedulerConfig.safeParse(json);
  if (!parsed.success) {
    throw new SchedulerConfigError(`invalid scheduler config: ${z.prettifyError(parsed.error)}`);
  }
  const raw = parsed.data;
  if (!isOneOf(PREDICTION_TYPES, raw.prediction_type)) {
    throw new SchedulerConfigError(
      `unsupported prediction_type "${raw.prediction_type}" in the scheduler config (supported: ${PREDICTION_TYPES.join(', ')})`,
    );
  }
  if (raw.rescale_betas_zero_snr) {
    // Zero terminal SNR puts an infinite σ at the last timestep; our schedules cannot start there yet.
    throw new SchedulerConfigError('scheduler configs with rescale_betas_zero_snr are not supported yet');
  }
  return {
    numTrainTimesteps: raw.num_train_timesteps,
    betas: raw.trained_betas ? trainedBetas(raw.trained_betas, raw.num_train_timesteps) : scheduledBetas(raw),
    predictionType: raw.prediction_type,
  };
}

/** Reads and validates a model's `scheduler/scheduler_config.json`. */
export async function readSchedulerConfig(file: string): Promise<SchedulerConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new SchedulerConfigError(`cannot read the scheduler config ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseSchedulerConfig(json);
}

function scheduledBetas(raw: z.infer<typeof RawSchedulerConfig>): Float64Array {
  const n = raw.num_train_timesteps;
  switch (raw.beta_schedule) {
    case 'linear':
      return Float64Array.from({ length: n }, (_, t) => lerp(raw.beta_start, raw.beta_end, t / (n - 1)));
    case 'scaled_linear':
      // Linear in √β: the schedule Stable Diffusion was trained with.
      return Float64Array.from({ length: n }, (_, t) => lerp(Math.sqrt(raw.beta_start), Math.sqrt(raw.beta_end), t / (n - 1)) ** 2);
    default:
      throw new SchedulerConfigError(
        `unsupported beta_schedule "${raw.beta_schedule}" in the scheduler config (supported: ${BETA_SCHEDULES.join(', ')}, or trained_betas)`,
      );
  }
}

function trainedBetas(betas: number[], numTrainTimesteps: number): Float64Array {
  if (betas.length !== numTrainTimesteps) {
    throw new SchedulerConfigError(
      `the scheduler config has ${betas.length} trained_betas for num_train_timesteps ${numTrainTimesteps}`,
    );
  }
  return Float64Array.from(betas);
}

function lerp(a: number, b: number, w: number): number {
  return a + (b - a) * w;
}

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}
