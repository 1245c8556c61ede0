import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/pipeline/errors.js';
import { img2imgSigmas, loadBaseImage } from '../../src/pipeline/img2img.js';

describe('img2img base image', () => {
  it('covers the target size, cropping the overflow evenly, as NCHW floats in [-1, 1]', async () => {
    // 30x10: red | green | blue thirds. Cover-resizing to 8x8 keeps only the green middle.
    const thirds = Buffer.alloc(30 * 10 * 3);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) thirds[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
    const png = await sharp(thirds, { raw: { width: 30, height: 10, channels: 3 } }).png().toBuffer();

    const chw = await loadBaseImage(png, 8, 8);
    expect(chw.length).toBe(3 * 64);
    const mean = (c: number) => chw.subarray(c * 64, (c + 1) * 64).reduce((a, b) => a + b, 0) / 64;
    expect(mean(0)).toBeCloseTo(-1, 1);
    expect(mean(1)).toBeCloseTo(1, 1);
    expect(mean(2)).toBeCloseTo(-1, 1);
  });

  it('reads grayscale and transparent images (transparency becomes white)', async () => {
    const transparent = await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).webp({ lossless: true }).toBuffer();
    expect([...(await loadBaseImage(transparent, 8, 8))].every((v) => v === 1)).toBe(true);
    const gray = await sharp(Buffer.alloc(16, 0), { raw: { width: 4, height: 4, channels: 1 } }).jpeg().toBuffer();
    const chw = await loadBaseImage(gray, 8, 16);
    expect(chw.length).toBe(3 * 8 * 16);
    expect(Math.max(...chw)).toBeLessThan(-0.9);
  });

  it('refuses a corrupt image with an INVALID_REQUEST error that says so', async () => {
    const good = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#123456' } }).png().toBuffer();
    for (const bad of [Buffer.from('definitely not an image'), good.subarray(0, 40)]) {
      const error = await loadBaseImage(bad, 8, 8).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/base image could not be read/) });
    }
  });
});

describe('img2img schedule', () => {
  const sigmas = Float64Array.from({ length: 21 }, (_, i) => (i === 20 ? 0 : 20 - i)); // 20 steps

  it('runs the last ⌊strength·steps⌋ + 1 steps, as A1111', () => {
    const tail = img2imgSigmas(sigmas, 0.75);
    expect(tail.length - 1).toBe(16);
    expect(tail[0]).toBe(sigmas[4]);
    expect(tail.at(-1)).toBe(0);
  });

  it('strength 1 keeps the whole schedule and strength 0 one final step', () => {
    expect([...img2imgSigmas(sigmas, 1)]).toEqual([...sigmas]);
    expect([...img2imgSigmas(sigmas, 0)]).toEqual([1, 0]);
  });
});
