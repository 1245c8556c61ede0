import { z } from 'zod';
import { MODEL_FAMILIES } from './families.js';
import { RNG_SOURCES, SAMPLERS, SCHEDULES } from './samplers.js';

/** A1111's hires upscalers that Easel runs: latent interpolation, or the decoded image through sharp. */
export const HIRES_UPSCALERS = [
  'Latent',
  'Latent (antialiased)',
  'Latent (bicubic)',
  'Latent (bicubic antialiased)',
  'Latent (nearest)',
  'Latent (nearest-exact)',
  'Lanczos',
  'Nearest',
] as const;
export type HiresUpscaler = (typeof HIRES_UPSCALERS)[number];

/**
 * A1111's hires fix (txt2img): the image is made at width × height, upscaled, and refined by an
 * img2img pass of `denoiseStrength` at the larger size. Present means on.
 */
export const HiresFix = z.object({
  /** A1111 hr_scale: the factor, when no resize is given. */
  scale: z.number().min(1).max(4).default(2),
  /** A1111 hr_resize_x / hr_resize_y: a target size; 0 takes it from the other side's aspect, both 0 use `scale`. */
  resizeWidth: z.number().int().min(0).max(2048).default(0),
  resizeHeight: z.number().int().min(0).max(2048).default(0),
  upscaler: z.enum(HIRES_UPSCALERS).default('Latent'),
  /** A1111 hr_second_pass_steps: 0 uses `steps`. */
  steps: z.number().int().min(0).max(150).default(0),
  /** A1111 hr_prompt / hr_negative_prompt: '' uses the first pass's. */
  prompt: z.string().max(10_000).default(''),
  negativePrompt: z.string().max(10_000).default(''),
  /** A1111 hr_sampler_name / hr_scheduler: absent uses the first pass's. */
  sampler: z.enum(SAMPLERS).optional(),
  schedule: z.enum(SCHEDULES).optional(),
});
export type HiresFix = z.infer<typeof HiresFix>;

/**
 * The contract between the API and the GPU function. Both sides parse it with these schemas, so
 * a job one side accepts is a job the other can run. Bump JOB_CONTRACT_VERSION on any change
 * that an older function could misread.
 */
export const JOB_CONTRACT_VERSION = 3;

export const MAX_SEED = 2 ** 32 - 1;

export const MAX_LORAS = 8;

/** One LoRA of a generation, by its catalog name, with A1111's multipliers. */
export const LoraSetting = z.object({
  name: z.string().trim().min(1).max(200),
  /** Multiplier of the LoRA's change, for the text encoders and (unless unetWeight is given) the UNet. */
  weight: z.number().min(-10).max(10),
  /** The UNet's own multiplier (A1111's `<lora:name:te:unet>`). */
  unetWeight: z.number().min(-10).max(10).optional(),
});
export type LoraSetting = z.infer<typeof LoraSetting>;

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
  /** FLUX.1 [dev]'s distilled guidance (Forge's "Distilled CFG Scale"), a transformer input; other models refuse it. */
  guidance: z.number().min(0).max(30).optional(),
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
  /** img2img and the hires pass: how far to noise the image, 0 (keep) to 1 (replace) (A1111's denoising_strength). */
  denoiseStrength: z.number().min(0).max(1).default(0.75),
  /**
   * A1111's "pad conds" (pad_cond_uncond): lengthen the shorter of prompt and negative prompt with
   * empty chunks so both run in one UNet batch. Off, as in A1111: each runs at its own length.
   */
  padConds: z.boolean().default(false),
  /** The hires fix; absent: none. */
  hires: HiresFix.optional(),
  /** LoRAs merged into the model for this generation; the prompt carries them as `<lora:name:weight>` too. */
  loras: z.array(LoraSetting).max(MAX_LORAS).default([]),
});
export type ImageSettings = z.infer<typeof ImageSettings>;

/** The numeric settings, by name. */
export type NumericSetting = { [K in keyof ImageSettings]-?: NonNullable<ImageSettings[K]> extends number ? K : never }[keyof ImageSettings];

/** A numeric setting's range, read from its definition above (for GraphQL validation and docs). */
export function settingRange(name: NumericSetting): { min: number; max: number } {
  const field = ImageSettings.shape[name];
  const number = field instanceof z.ZodDefault || field instanceof z.ZodOptional ? (field.unwrap() as z.ZodNumber) : (field as z.ZodNumber);
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

/**
 * The most pixels a base image may have: twice the largest output size each way, room enough to
 * downscale from and small enough to decode (16.8 MP: 67 MB as RGBA). The API refuses larger
 * uploads from their header; the GPU function's decoder refuses them too (sharp limitInputPixels).
 */
export const MAX_BASE_IMAGE_PIXELS = (2 * GenerationSettings.shape.width.maxValue!) * (2 * GenerationSettings.shape.height.maxValue!);

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
  /**
   * Where the function finds each LoRA of settings.loras: a plain file name under its LORAS_DIR,
   * and the sha256 of the file the catalog describes. The function checks the file against it and
   * caches merged models by it, so a file replaced under the same name is never served stale.
   */
  loraFiles: z
    .array(
      z.object({
        name: z.string().min(1),
        file: z.string().regex(/^(?!\.+$)[A-Za-z0-9._ -]+\.safetensors$/, 'must be a plain .safetensors file name'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex'),
      }),
    )
    .max(MAX_LORAS)
    .default([]),
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
