import sharp from 'sharp';
import { SIGNATURE_HEADER, signBody } from '@easel/schema';
import { JobFailure } from './failure.js';

export interface BaseImageLimits {
  maxBytes: number;
  timeoutMs: number;
}

/**
 * Downloads a job's img2img base image from the API. The request is signed like the callbacks
 * (an empty body), so the API serves it to the job's function only. The image is checked to be
 * one before the job starts: the `failed` event then says the image was the problem.
 */
export async function fetchBaseImage(url: string, secret: string, limits: BaseImageLimits, signal?: AbortSignal): Promise<Buffer> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { [SIGNATURE_HEADER]: signBody(secret, '') },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    throw unavailable(error, timeout, limits);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new JobFailure('BASE_IMAGE_UNAVAILABLE', `the base image could not be downloaded: its URL answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limits.maxBytes) {
    await response.body?.cancel();
    throw tooLarge(limits, declared);
  }
  let bytes: Buffer;
  try {
    bytes = await readAtMost(response, limits.maxBytes);
  } catch (error) {
    if (error instanceof JobFailure) throw error;
    throw unavailable(error, timeout, limits);
  }
  try {
    await sharp(bytes).metadata();
  } catch (error) {
    throw new JobFailure('BASE_IMAGE_INVALID', `the base image is not an image that can be read (${(error as Error).message})`, { cause: error });
  }
  return bytes;
}

/** Reads the body, stopping as soon as it grows past the limit (a missing or false Content-Length included). */
async function readAtMost(response: Response, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge({ maxBytes }, size, 'at least ');
    }
    chunks.push(value);
  }
}

function tooLarge({ maxBytes }: { maxBytes: number }, size: number, qualifier = ''): JobFailure {
  return new JobFailure('BASE_IMAGE_TOO_LARGE', `the base image is ${qualifier}${size} bytes; the function accepts at most ${maxBytes}`);
}

function unavailable(error: unknown, timeout: AbortSignal, limits: BaseImageLimits): unknown {
  if (timeout.aborted) {
    return new JobFailure('BASE_IMAGE_UNAVAILABLE', `the base image download took longer than ${limits.timeoutMs / 1000} s`, { cause: error });
  }
  // Cancelled by the job's own signal: let the handler report why it was aborted.
  if ((error as Error)?.name === 'AbortError') return error;
  const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
  return new JobFailure('BASE_IMAGE_UNAVAILABLE', `the base image could not be downloaded (${cause})`, { cause: error });
}
