import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const deriveKey = (passphrase: string) => Buffer.from(hkdfSync('sha256', passphrase, '', 'easel webhook secrets', 32));

/**
 * Seals short secrets for storage (AES-256-GCM, a fresh IV each time, the key derived from
 * WEBHOOK_SECRETS_KEY with HKDF), so that a copy of the database alone does not give them away.
 * A sealed value reads `sealed:v1:<base64url of IV, tag and ciphertext>`. Keys being retired
 * (WEBHOOK_SECRETS_PREVIOUS_KEYS) still open what they sealed; `open` says so, for resealing.
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly previousKeys: Buffer[];

  constructor(passphrase: string, previousPassphrases: readonly string[] = []) {
    this.key = deriveKey(passphrase);
    this.previousKeys = previousPassphrases.map(deriveKey);
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

  /**
   * The secret, and whether a previous key sealed it (seal it again with the current one); throws
   * when no key opens it (sealed under another key, or altered).
   */
  open(stored: string): { secret: string; sealedWithPreviousKey: boolean } {
    const bytes = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    for (const [index, key] of [this.key, ...this.previousKeys].entries()) {
      const secret = openWith(key, bytes);
      if (secret !== undefined) return { secret, sealedWithPreviousKey: index > 0 };
    }
    throw new Error('A stored webhook secret opens with neither WEBHOOK_SECRETS_KEY nor WEBHOOK_SECRETS_PREVIOUS_KEYS: the key was changed, or the value altered.');
  }
}

/** GCM checks the tag: a wrong key or an altered value gives undefined. */
function openWith(key: Buffer, bytes: Buffer): string | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
