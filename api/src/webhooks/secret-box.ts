import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals short secrets for storage (AES-256-GCM, a fresh IV each time, the key derived from
 * WEBHOOK_SECRETS_KEY with HKDF), so that a copy of the database alone does not give them away.
 * A sealed value reads `sealed:v1:<base64url of IV, tag and ciphertext>`.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(passphrase: string) {
    this.key = Buffer.from(hkdfSync('sha256', passphrase, '', 'easel webhook secrets', 32));
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  seal(secret: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
  }

  /** The secret; throws when the value was sealed under another key or altered. */
  open(stored: string): string {
    const bytes = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new Error('A stored webhook secret does not open with WEBHOOK_SECRETS_KEY: the key was changed, or the value altered.', { cause: error });
    }
  }
}
