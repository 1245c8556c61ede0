import type { GenerationEventType } from '@easel/schema';
import type { StoredSettings } from '../generation.js';

/*
 * The most bytes one event of a job can need, known before its body is read: the callback
 * refuses anything larger without buffering it. Bounds are generous (worst-case PNG and WebP
 * sizes, base64's 4/3, JSON around them), and small for the events that carry no image.
 */

/** Ids, numbers, a failure's reason: JSON of a few hundred bytes, with room to spare. */
const SMALL_EVENT_BYTES = 64 * 1024;

const base64 = (bytes: number) => Math.ceil(bytes / 3) * 4;

/**
 * An incompressible PNG: 3 bytes a pixel, a filter byte a row, deflate's stored blocks (5 bytes
 * each 64 KB), the chunks and the metadata text (two prompts of up to 10,000 characters, UTF-8).
 */
const worstPngBytes = (width: number, height: number) => width * height * 3 + height + Math.ceil((width * height * 3) / 65535) * 5 + 128 * 1024;

/** The preview is an RGB WebP at latent size (1/8 each way); lossy WebP stays below raw size. */
const worstPreviewBytes = (width: number, height: number) => Math.ceil(width / 8) * Math.ceil(height / 8) * 3 + 1024;

export function maxEventBytes(type: GenerationEventType | undefined, settings: Pick<StoredSettings, 'width' | 'height' | 'batchSize'>): number {
  const { width, height, batchSize } = settings;
  switch (type) {
    case 'started':
    case 'failed':
      return SMALL_EVENT_BYTES;
    case 'progress':
      return SMALL_EVENT_BYTES + base64(worstPreviewBytes(width, height));
    // A function that does not say which event it sends gets the largest this job can need.
    case 'completed':
    case undefined:
      return SMALL_EVENT_BYTES + batchSize * base64(worstPngBytes(width, height));
  }
}
