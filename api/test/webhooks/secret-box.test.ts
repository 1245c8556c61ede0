import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/webhooks/secret-box.js';

describe('SecretBox (webhook secrets at rest)', () => {
  const box = new SecretBox('a'.repeat(40));
  const secret = 'whsec_' + Buffer.alloc(32, 9).toString('base64');

  it('opens what it sealed; the same secret seals differently each time (a fresh IV)', () => {
    const [first, second] = [box.seal(secret), box.seal(secret)];
    expect(SecretBox.isSealed(first)).toBe(true);
    expect(SecretBox.isSealed(secret)).toBe(false);
    expect(first).not.toBe(second);
    expect(box.open(first)).toEqual({ secret, sealedWithPreviousKey: false });
    expect(box.open(second).secret).toBe(secret);
  });

  it('refuses a value sealed under another key, or altered', () => {
    const sealed = box.seal(secret);
    expect(() => new SecretBox('b'.repeat(40)).open(sealed)).toThrow(/opens with neither WEBHOOK_SECRETS_KEY nor WEBHOOK_SECRETS_PREVIOUS_KEYS: the key was changed, or the value altered/);
    const bytes = Buffer.from(sealed.slice('sealed:v1:'.length), 'base64url');
    bytes[bytes.length - 1] ^= 1;
    expect(() => box.open(`sealed:v1:${bytes.toString('base64url')}`)).toThrow(/opens with neither/);
  });

  it('opens what a previous key sealed, and says so; seals with the current key only', () => {
    const old = new SecretBox('o'.repeat(40));
    const rotated = new SecretBox('n'.repeat(40), ['x'.repeat(40), 'o'.repeat(40)]);
    expect(rotated.open(old.seal(secret))).toEqual({ secret, sealedWithPreviousKey: true });
    expect(new SecretBox('n'.repeat(40)).open(rotated.seal(secret))).toEqual({ secret, sealedWithPreviousKey: false });
  });
});
