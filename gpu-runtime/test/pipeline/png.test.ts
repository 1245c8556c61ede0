import extractChunks from 'png-chunks-extract';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { formatParameters } from '../../src/pipeline/parameters.js';
import { encodePng, readParameters, readPngText, vaePixelsToRgb } from '../../src/pipeline/png.js';

describe('PNG output', () => {
  it('maps VAE pixels of the chosen batch image to clamped, rounded RGB bytes', () => {
    const width = 2, height = 1, plane = 2;
    // batch of 2; image 1 holds: R = [-1, 1], G = [0, 2 (over range)], B = [-3 (under), 0.5]
    const pixels = new Float32Array(2 * 3 * plane).fill(9);
    pixels.set([-1, 1, 0, 2, -3, 0.5], 3 * plane);
    expect([...vaePixelsToRgb(pixels, 1, width, height)]).toEqual([0, 128, 0, 255, 255, 191]);
  });

  it('writes the parameters chunk that a reader gets back, with the pixels untouched', async () => {
    const rgb = Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => (i * 7) % 256);
    const infotext = formatParameters({
      prompt: 'a cat', negativePrompt: 'blurry', steps: 20, sampler: 'euler_a', schedule: 'normal',
      cfgScale: 7, seed: 42, width: 8, height: 4, model: 'Tiny', clipSkip: 1,
    });
    const png = await encodePng(rgb, 8, 4, { parameters: infotext });

    expect(readPngText(png)).toEqual({ parameters: infotext }); // every chunk's CRC checked on the way
    expect(extractChunks(png).map((chunk) => chunk.name).slice(0, 2)).toEqual(['IHDR', 'tEXt']);
    expect(readParameters(png)).toMatchObject({ prompt: 'a cat', negativePrompt: 'blurry', seed: 42, sampler: 'euler_a', width: 8, height: 4 });
    const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info).toMatchObject({ width: 8, height: 4, channels: 3 });
    expect(Buffer.compare(decoded.data, Buffer.from(rgb))).toBe(0);
    // sharp still reads it, and sees the chunk as PNG text metadata
    expect((await sharp(png).metadata()).comments).toEqual([{ keyword: 'parameters', text: infotext }]);
  });

  it('stores text beyond Latin-1 (emoji, CJK) as UTF-8 iTXt, as PIL and A1111 do', async () => {
    const rgb = new Uint8Array(2 * 2 * 3);
    const infotext = '猫, 🐱 café\nSteps: 4, Sampler: Euler, Schedule type: Normal, CFG scale: 7, Seed: 1, Size: 2x2';
    const png = await encodePng(rgb, 2, 2, { parameters: infotext });
    expect(readParameters(png)?.prompt).toBe('猫, 🐱 café');
    expect((await sharp(png).metadata()).comments?.[0]?.text).toBe(infotext);
  });

  it('returns undefined for a PNG without settings, and throws on bytes that are not a PNG', async () => {
    const plain = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer();
    expect(readParameters(plain)).toBeUndefined();
    expect(() => readParameters(Buffer.from('not a png at all'))).toThrow(/png/i);
  });
});
