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
