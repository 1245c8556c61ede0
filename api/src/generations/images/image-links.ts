import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const HOUR_MS = 3_600_000;

/**
 * Links to a generated image that work without an Authorization header, for `<img src>` in a
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

  /** The query string that lets its holder fetch the image `fileId` for the next hour or two. */
  query(fileId: string): string {
    const expires = (Math.ceil(this.now() / HOUR_MS) * HOUR_MS + HOUR_MS) / 1000;
    return `expires=${expires}&token=${this.token(fileId, expires)}`;
  }

  /** Whether `token` was made by `query(fileId)` and has not expired. */
  verify(fileId: string, expires: unknown, token: unknown): boolean {
    const seconds = Number(expires);
    if (!Number.isSafeInteger(seconds) || typeof token !== 'string' || seconds * 1000 < this.now()) return false;
    const expected = Buffer.from(this.token(fileId, seconds));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private token(fileId: string, expires: number): string {
    return createHmac('sha256', this.key).update(`image:${fileId.toLowerCase()}:${expires}`).digest('base64url');
  }
}
