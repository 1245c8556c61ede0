import { z } from 'zod';
import { MODEL_FAMILIES } from './families.js';
import { RNG_SOURCES, SAMPLERS, SCHEDULES } from './samplers.js';

/**
 * The contract between the API and the GPU function. Both sides parse it with these schemas, so
 * a job one side accepts is a job the other can run. Bump JOB_CONTRACT_VERSION on any change
 * that an older function could misread.
 */
export const JOB_CONTRACT_VERSION = 2;

export const MAX_SEED = 2 ** 32 - 1;

/** Image sizes are whole latent pixels: the VAE scales by 8. */
export const SIZE_MULTIPLE = 8;

/**
 * The settings that decide the pixels besides the prompts, each with its range: the one
 * definition of a setting. The API takes them (GraphQL input ranges come from here), stores them
 * with the generation and sends them in the job; the GPU function reads them from the job.
 */
export const ImageSettings = z.object({
  width: z.number().int().min(64).max(2048).multipleOf(SIZE_MULTIPLE, `must be a multiple of ${SIZE_MULTIPLE}`),
  height: z.number().int().min(64).max(2048).multipleOf(SIZE_MULTIPLE, `must be a multiple of ${SIZE_MULTIPLE}`),
  steps: z.number().int().min(1).max(150),
  cfgScale: z.number().min(1).max(30),
  sampler: z.enum(SAMPLERS),
  schedule: z.enum(SCHEDULES),
  /** 1 is the last layer; 2 the penultimate (A1111's "Clip skip: 2"). */
  clipSkip: z.number().int().min(1).max(12).default(1),
  /** Image i of the batch uses seed + i. */
  seed: z.number().int().min(0).max(MAX_SEED),
  /** A1111's "Random number generator source"; NV is what A1111 draws by default on NVIDIA GPUs. */
  rngSource: z.enum(RNG_SOURCES).default('NV'),
  /** A1111's variation seed: image i mixes in the noise of subseed + i. Read only when subseedStrength > 0. */
  subseed: z.number().int().min(0).max(MAX_SEED).default(0),
  /** How much of the variation seed's noise: 0 none, 1 all of it (spherical interpolation). */
  subseedStrength: z.number().min(0).max(1).default(0),
  /** A1111's "Eta noise seed delta" (ENSD): the per-step noise of ancestral samplers is drawn from seed + ENSD. */
  etaNoiseSeedDelta: z.number().int().min(0).max(MAX_SEED).default(0),
  batchSize: z.number().int().min(1).max(4).default(1),
  /** img2img: how far to noise the base image, 0 (keep) to 1 (replace). Ignored without one. */
  denoiseStrength: z.number().min(0).max(1).default(0.75),
});
export type ImageSettings = z.infer<typeof ImageSettings>;

/** The numeric settings, by name. */
export type NumericSetting = { [K in keyof ImageSettings]: ImageSettings[K] extends number ? K : never }[keyof ImageSettings];

/** A numeric setting's range, read from its definition above (for GraphQL validation and docs). */
export function settingRange(name: NumericSetting): { min: number; max: number } {
  const field = ImageSettings.shape[name];
  const number = field instanceof z.ZodDefault ? (field.unwrap() as z.ZodNumber) : (field as z.ZodNumber);
  return { min: number.minValue ?? -Infinity, max: number.maxValue ?? Infinity };
}

/** Everything that decides the pixels. The pipeline takes exactly this, plus where the model lives. */
export const GenerationSettings = ImageSettings.extend({
  prompt: z.string().max(10_000),
  negativePrompt: z.string().max(10_000).default(''),
  /** Send a preview every N steps; 0 sends none. */
  previewEvery: z.number().int().min(0).default(1),
});
export type GenerationSettings = z.infer<typeof GenerationSettings>;

export const ModelRef = z.object({
  /** Catalog id, echoed into the PNG metadata. */
  id: z.string().min(1),
  /** Human name written to the PNG's "Model:" field. */
  name: z.string().min(1),
  family: z.enum(MODEL_FAMILIES),
  /** Folder name under the function's models directory. */
  path: z
    .string()
    .min(1)
    // No separators, and not "." or "..": the function joins it to MODELS_DIR.
    .regex(/^(?!\.+$)[A-Za-z0-9._-]+$/, 'must be a plain folder name'),
});
export type ModelRef = z.infer<typeof ModelRef>;

export const GenerationJob = z.object({
  version: z.literal(JOB_CONTRACT_VERSION),
  jobId: z.string().min(1),
  /** Which delivery attempt this is; events from an older attempt are ignored by the API. */
  attempt: z.number().int().min(1),
  model: ModelRef,
  settings: GenerationSettings,
  /** img2img base image, fetched by the function with the same signature scheme as callbacks. */
  baseImageUrl: z.url().optional(),
  callback: z.object({
    url: z.url(),
    /** Per-job HMAC key; never logged. */
    secret: z.string().min(32),
  }),
});
export type GenerationJob = z.infer<typeof GenerationJob>;
/** A job as the API sends it: the GPU function's handler parses it, filling in defaults. */
export type GenerationJobRequest = z.input<typeof GenerationJob>;
