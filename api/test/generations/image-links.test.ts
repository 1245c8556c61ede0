import { describe, expect, it } from 'vitest';
import { ImageLinks } from '../../src/generations/images/image-links.js';

const HOUR = 3_600_000;
const FILE = '665f1c2e9b1d4a0012345678';

describe('ImageLinks', () => {
  it('makes links that last one to two hours, the same for every read within an hour', () => {
    let now = Date.UTC(2026, 0, 1, 10, 15);
    const links = new ImageLinks('k'.repeat(32), () => now);
    const query = links.query(FILE);
    const expires = Number(new URLSearchParams(query).get('expires')) * 1000;
    expect(expires).toBe(Date.UTC(2026, 0, 1, 12, 0));
    now += 40 * 60_000;
    expect(links.query(FILE)).toBe(query);
    now += 10 * 60_000;
    expect(links.query(FILE)).not.toBe(query);
  });

  it('accepts its own links until they expire, and nothing else', () => {
    let now = Date.UTC(2026, 0, 1, 10, 15);
    const links = new ImageLinks('k'.repeat(32), () => now);
    const params = new URLSearchParams(links.query(FILE));
    const [expires, token] = [params.get('expires'), params.get('token')];
    expect(links.verify(FILE, expires, token)).toBe(true);
    expect(links.verify(FILE.toUpperCase(), expires, token)).toBe(true);
    expect(links.verify('665f1c2e9b1d4a0012345679', expires, token)).toBe(false);
    expect(links.verify(FILE, String(Number(expires) + 3600), token)).toBe(false);
    expect(links.verify(FILE, expires, token!.slice(1))).toBe(false);
    expect(links.verify(FILE, expires, undefined)).toBe(false);
    expect(links.verify(FILE, 'soon', token)).toBe(false);
    expect(new ImageLinks('o'.repeat(32), () => now).verify(FILE, expires, token)).toBe(false);
    now += 2 * HOUR;
    expect(links.verify(FILE, expires, token)).toBe(false);
  });
});
