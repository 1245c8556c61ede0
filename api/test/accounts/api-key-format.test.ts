import { describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, bearerKey, displayPrefix, generateApiKey, hashApiKey } from '../../src/accounts/api-key-format.js';

describe('API key format', () => {
  it('makes distinct, recognisable keys of 256 random bits', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(API_KEY_PATTERN);
      expect(Buffer.from(key.slice('easel_'.length), 'base64url')).toHaveLength(32);
    }
  });

  it('stores a SHA-256 and shows a prefix too short to use', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toContain(key.slice(6, 14));
    expect(displayPrefix(key)).toBe(key.slice(0, 14));
  });

  it('reads the key from a Bearer header only', () => {
    expect(bearerKey('Bearer easel_abc')).toBe('easel_abc');
    expect(bearerKey('bearer   easel_abc ')).toBe('easel_abc');
    expect(bearerKey('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerKey('Bearer')).toBeUndefined();
    expect(bearerKey(undefined)).toBeUndefined();
  });
});
