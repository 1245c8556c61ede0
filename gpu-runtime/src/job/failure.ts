import type { FailureCode } from '@easel/schema';
import { GpuUnavailableError, ModelLoadError } from '../models/errors.js';
import { GenerationCancelledError, InvalidRequestError, NonFiniteOutputError } from '../pipeline/errors.js';

/** A job failure whose code and reason the handler reports as they are. */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';

  constructor(
    readonly code: FailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface FailureReport {
  code: FailureCode;
  reason: string;
}

// onnxruntime reports exhausted GPU memory in the words of the allocator that ran dry.
const OUT_OF_MEMORY = /out of memory|CUDA_ERROR_OUT_OF_MEMORY|bad_alloc|Failed to allocate memory/i;

/** Any error as the `failed` event's stable code and a reason a person can act on. */
export function describeFailure(error: unknown): FailureReport {
  if (error instanceof JobFailure) return { code: error.code, reason: error.message };
  if (error instanceof ModelLoadError) {
    return { code: error.code === 'MODEL_NOT_FOUND' ? 'MODEL_NOT_INSTALLED' : error.code, reason: error.message };
  }
  if (error instanceof GpuUnavailableError) return { code: error.code, reason: error.message };
  if (error instanceof InvalidRequestError) return { code: 'INVALID_REQUEST', reason: error.message };
  if (error instanceof GenerationCancelledError) return { code: 'CANCELLED', reason: error.message };
  if (error instanceof NonFiniteOutputError) return { code: error.code, reason: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (OUT_OF_MEMORY.test(message)) {
    return { code: 'OUT_OF_MEMORY', reason: `the GPU function ran out of memory (${message}); try a smaller size or batch` };
  }
  return { code: 'INTERNAL_ERROR', reason: `the GPU function failed unexpectedly: ${message}` };
}
