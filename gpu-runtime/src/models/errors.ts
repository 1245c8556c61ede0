/**
 * Why a model folder cannot be used, with a stable `code` the handler reports in its `failed`
 * event. Every message names the folder and the file at fault, so whoever installed the model
 * knows what to fix.
 */
export type ModelLoadErrorCode =
  /** The folder does not exist. */
  | 'MODEL_NOT_FOUND'
  /** A file the pipeline needs is missing (a partial download, a refiner-only export). */
  | 'MODEL_INCOMPLETE'
  /** model_index.json names a pipeline Easel cannot run. */
  | 'MODEL_UNKNOWN_KIND'
  /** A file is there but unreadable or not what its name promises. */
  | 'MODEL_INVALID';

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';

  constructor(
    readonly code: ModelLoadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * EASEL_EXECUTION_PROVIDER=cuda and CUDA cannot be used (its onnxruntime library is not installed,
 * or it fails to start where the CPU opens the same file). Not a model problem, so not
 * MODEL_INVALID: the fix is on the machine or in its configuration.
 */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
  readonly code = 'GPU_UNAVAILABLE';
}
