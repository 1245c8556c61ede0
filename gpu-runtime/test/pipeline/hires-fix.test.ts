import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/pipeline/generate.js';
import { interpolate } from '../../src/pipeline/hires-fix.js';
import { readParameters } from '../../src/pipeline/png.js';
import type { Progress } from '../../src/pipeline/preview.js';
import { pixelsOf, tinyModels, tinyRequest, type TinyModels } from './fixtures.js';

let models: TinyModels;
beforeAll(async () => {
  models = await tinyModels();
});
afterAll(() => models.cleanup());

const SQUARE = Float32Array.of(1, 2, 3, 4);
const grid = (values: Float32Array, width: number) => Array.from({ length: values.length / width }, (_, r) => Array.from(values.subarray(r * width, (r + 1) * width)));

// Reference: torch.nn.functional.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=…, mode=…, align_corners=False).
describe('latent upscaling as torch interpolates', () => {
  it('bilinear 2x2 -> 4x4', () => {
    expect(grid(interpolate(SQUARE, 1, { width: 2, height: 2 }, { width: 4, height: 4 }, 'bilinear'), 4)).toEqual([
      [1, 1.25, 1.75, 2],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3, 3.25, 3.75, 4],
    ]);
  });

  it('bicubic 2x2 -> 4x4, first row', () => {
    const row = grid(interpolate(SQUARE, 1, { width: 2, height: 2 }, { width: 4, height: 4 }, 'bicubic'), 4)[0];
    [0.68359375, 1.015625, 1.5625, 1.89453125].forEach((value, i) => expect(row[i]).toBeCloseTo(value, 6));
  });

  it('nearest and nearest-exact 2 -> 3 differ as torch has them', () => {
    const line = Float32Array.of(1, 2);
    expect(Array.from(interpolate(line, 1, { width: 2, height: 1 }, { width: 3, height: 1 }, 'nearest'))).toEqual([1, 1, 2]);
    expect(Array.from(interpolate(line, 1, { width: 2, height: 1 }, { width: 3, height: 1 }, 'nearest-exact'))).toEqual([1, 2, 2]);
  });
});

describe('hires fix on the tiny SD 1.5 model', () => {
  it('makes the larger image, counts both passes in progress, and records A1111 Hires fields', async () => {
    const progress: Progress[] = [];
    const request = tinyRequest(models, 'sd15', {
      steps: 4,
      denoiseStrength: 0.5,
      previewEvery: 3,
      hires: { scale: 2, resizeWidth: 0, resizeHeight: 0, upscaler: 'Latent', steps: 6, prompt: '', negativePrompt: '' },
    });
    const [image] = await generate(request, { onProgress: (p) => void progress.push(p) });
    expect([image.width, image.height]).toEqual([128, 128]);
    expect((await pixelsOf(image.png)).width).toBe(128);
    // 4 first-pass steps, then the sigmas A1111's sample_img2img keeps of 6: t_enc = int(0.5 · 6) = 3, sigmas[6 − 3 − 1:], 4 steps.
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.every((p) => p.totalSteps === 8)).toBe(true);
    expect(progress.filter((p) => p.previewWebp).map((p) => p.step)).toEqual([3, 6]);
    const parameters = readParameters(image.png);
    expect(parameters?.fields).toMatchObject({ Size: '64x64', 'Denoising strength': '0.5', 'Hires upscale': '2', 'Hires steps': '6', 'Hires upscaler': 'Latent' });
  });

  it('resizes to a size through sharp (Lanczos), cropping to its aspect, with its own prompt and sampler', async () => {
    const request = tinyRequest(models, 'sd15', {
      steps: 3,
      hires: { scale: 2, resizeWidth: 128, resizeHeight: 96, upscaler: 'Lanczos', steps: 0, prompt: 'a [red|blue] fox', negativePrompt: '', sampler: 'dpmpp_2m' },
    });
    const [image] = await generate(request);
    expect([image.width, image.height]).toEqual([128, 96]);
    expect(readParameters(image.png)?.fields).toMatchObject({ 'Hires resize': '128x96', 'Hires upscaler': 'Lanczos', 'Hires prompt': 'a [red|blue] fox', 'Hires sampler': 'DPM++ 2M' });
  });

  it('refines rather than replaces: the hires image is closer to the upscaled first pass at a low strength', async () => {
    const base = { steps: 4, seed: 3 };
    const hires = (denoiseStrength: number) =>
      generate(tinyRequest(models, 'sd15', { ...base, denoiseStrength, hires: { scale: 2, resizeWidth: 0, resizeHeight: 0, upscaler: 'Nearest', steps: 10, prompt: '', negativePrompt: '' } }));
    const [[low], [high], [first]] = await Promise.all([hires(0.1), hires(0.9), generate(tinyRequest(models, 'sd15', base))]);
    const upscaled = await pixelsOf(await (await import('sharp')).default(first.png).resize(128, 128, { kernel: 'nearest' }).png().toBuffer());
    const distance = async (png: Buffer) => {
      const { data } = await pixelsOf(png);
      return data.reduce((sum, v, i) => sum + Math.abs(v - upscaled.data[i]), 0) / data.length;
    };
    expect(await distance(low.png)).toBeLessThan(await distance(high.png));
  });
});
