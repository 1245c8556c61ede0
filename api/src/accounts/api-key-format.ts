import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys look like `easel_<43 base64url characters>` (256 random bits). The prefix makes a
 * leaked key recognisable to people and secret scanners; only its SHA-256 is stored, so a
 * database dump reveals no usable key. A fast hash is enough: the key is random, not a password.
 */
export const API_KEY_PREFIX = 'easel_';
export const API_KEY_PATTERN = /^easel_[A-Za-z0-9_-]{32,}$/;

/** Characters kept for display ("easel_AbCd1234…"), enough to tell keys apart, far too few to guess. */
const DISPLAY_LENGTH = API_KEY_PREFIX.length + 8;

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_LENGTH);
}

/** The key in an `Authorization: Bearer <key>` header, or undefined when there is none. */
export function bearerKey(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1];
}
