import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ImageBucket } from './stored-image.js';

const HOUR_MS = 3_600_000;

/**
 * Links to an image (a generated one, or an uploaded base image) that work without an
 * Authorization header, for `<img src>` in a
 * browser: `?expires=<unix seconds>&token=<HMAC of the image id and the expiry>`, in the manner of
 * S3's presigned URLs. Only the owner receives one (through GraphQL), and it stops working one to
 * two hours later: the expiry is rounded up to the next full hour, so a link stays the same across
 * reads within the hour and browsers can cache the image.
 */
export class ImageLinks {
  private readonly key: Buffer;

  /** `key`: IMAGE_LINK_KEY, shared by every API instance; without one, links work only on the instance that made them. */
  constructor(key: string | undefined, private readonly now: () => number = Date.now) {
    this.key = key ? Buffer.from(key) : randomBytes(32);
  }

  /** The query string that lets its holder fetch the file `fileId` of `bucket` for the next hour or two. */
  query(fileId: string, bucket: ImageBucket = 'images'): string {
    const expires = (Math.ceil(this.now() / HOUR_MS) * HOUR_MS + HOUR_MS) / 1000;
    return `expires=${expires}&token=${this.token(bucket, fileId, expires)}`;
  }

  /** Whether `token` was made by `query(fileId, bucket)` and has not expired. */
  verify(fileId: string, expires: unknown, token: unknown, bucket: ImageBucket = 'images'): boolean {
    const seconds = Number(expires);
    if (!Number.isSafeInteger(seconds) || typeof token !== 'string' || seconds * 1000 < this.now()) return false;
    const expected = Buffer.from(this.token(bucket, fileId, seconds));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private token(bucket: ImageBucket, fileId: string, expires: number): string {
    // The bucket is signed too: a link to one file never opens a file of the other bucket.
    const kind = bucket === 'images' ? 'image' : 'upload';
    return createHmac('sha256', this.key).update(`${kind}:${fileId.toLowerCase()}:${expires}`).digest('base64url');
  }
}
