import type { OnProgress } from './preview.js';

/** What every family's pipeline takes besides the request, and what it gives back. */
export interface GenerateOptions {
  /** Called once per step, in order, with a WebP preview every `previewEvery` steps. Not awaited by the loop. */
  onProgress?: OnProgress;
  /** Stops the generation between two steps with a GenerationCancelledError. */
  signal?: AbortSignal;
}

export interface GeneratedImage {
  /** With A1111's `parameters` text chunk. */
  png: Buffer;
  seed: number;
  width: number;
  height: number;
}
