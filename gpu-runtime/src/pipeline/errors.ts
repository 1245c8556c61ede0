/**
 * Errors a caller can act on, each with a stable `code` (the Lambda handler reports it in its
 * `failed` event; the API maps it to a GraphQL `extensions.code`).
 */

/** The request cannot be run as given: a bad setting, an unreadable base image. */
export class InvalidRequestError extends Error {
  readonly code = 'INVALID_REQUEST';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidRequestError';
  }
}

/** The caller's AbortSignal fired; raised between steps. Named AbortError, as fetch and Node do. */
export class GenerationCancelledError extends Error {
  readonly code = 'CANCELLED';

  constructor(step: number, totalSteps: number) {
    super(`generation cancelled after step ${step} of ${totalSteps}`);
    this.name = 'AbortError';
  }
}

/** Where the pipeline checks the model's numbers: each denoising step, and each decoded image. */
export type CheckedStage = 'unet' | 'transformer' | 'vae_decoder';

const NON_FINITE_ADVICE: Record<CheckedStage, string> = {
  unet: 'half-precision (fp16) UNets can overflow with some prompts and settings; try a lower CFG scale or another sampler, or an fp32 export of the model',
  transformer: 'half-precision (fp16) Flux transformers can overflow; use the bf16 or an fp32 export of the transformer',
  vae_decoder: "half-precision (fp16) VAE decoders can overflow (SDXL's original VAE does); use an fp32 VAE or the fp16-fix VAE",
};

const STAGE_NAMES: Record<CheckedStage, string> = { unet: 'UNet', transformer: 'Flux transformer', vae_decoder: 'VAE decoder' };

/**
 * The model computed NaN or infinity, so no image can come of it (A1111: "A tensor with all NaNs
 * was produced in Unet"). Raised where it happens, rather than sampling on and decoding an
 * all-black image.
 */
export class NonFiniteOutputError extends Error {
  readonly code = 'NON_FINITE_OUTPUT';

  constructor(
    readonly stage: CheckedStage,
    where: string,
  ) {
    super(`the ${STAGE_NAMES[stage]} produced NaN or infinite values ${where}: ${NON_FINITE_ADVICE[stage]}`);
    this.name = 'NonFiniteOutputError';
  }
}

/**
 * Whether every value is a finite number. NaN and ±∞ survive any addition and a float64 sum of
 * float32 values cannot overflow, so the sum is finite exactly when every value is; one add per
 * value is about twice as fast as testing each (it runs on every UNet output).
 */
export function allFinite(values: Float32Array): boolean {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return Number.isFinite(sum);
}
