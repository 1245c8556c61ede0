import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels } from '../../../src/tiny-models/index.js';
import { InvalidRequestError } from '../../../src/pipeline/errors.js';
import { generate, type GenerationRequest } from '../../../src/pipeline/generate.js';
import { readParameters } from '../../../src/pipeline/png.js';
import type { Progress } from '../../../src/pipeline/preview.js';
import { gradientImage, pixelsOf, pixelStats } from '../fixtures.js';

let root: string;
let fluxDir: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-flux-'));
  fluxDir = (await makeTinyModels(root))['tiny-flux'];
});
afterAll(() => rm(root, { recursive: true, force: true }));

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modelDir: fluxDir,
  model: { id: 'tiny-flux', name: 'Tiny Flux', family: 'FLUX', path: 'tiny-flux' },
  prompt: 'a cat sitting on a window, golden light',
  width: 64,
  height: 80,
  steps: 4,
  cfgScale: 1,
  sampler: 'euler',
  schedule: 'normal',
  seed: 77,
  previewEvery: 0,
  ...overrides,
});

describe('Flux pipeline on the tiny FLUX.1 [dev] model', () => {
  it('makes a PNG per image with Forge-style infotext, previews of the 16-channel latents on each step', async () => {
    const progress: Progress[] = [];
    const images = await generate(request({ batchSize: 2, guidance: 4.5, previewEvery: 2 }), { onProgress: (p) => void progress.push(p) });
    expect(images.map((image) => [image.seed, image.width, image.height])).toEqual([[77, 64, 80], [78, 64, 80]]);
    const pixels = await pixelsOf(images[0].png);
    expect([pixels.width, pixels.height]).toEqual([64, 80]);
    expect(pixelStats(pixels.data).std).toBeGreaterThan(2);
    expect((await pixelsOf(images[1].png)).data.equals(pixels.data)).toBe(false);

    const infotext = readParameters(images[0].png)!;
    expect(infotext).toMatchObject({ prompt: 'a cat sitting on a window, golden light', steps: 4, sampler: 'euler', cfgScale: 1, guidance: 4.5, seed: 77, width: 64, height: 80, model: 'Tiny Flux' });
    expect(infotext.fields['Distilled CFG Scale']).toBe('4.5');

    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(progress.map((p) => p.previewWebp !== undefined)).toEqual([false, true, false, true]);
    const preview = await sharp(progress[1].previewWebp!).metadata();
    expect([preview.width, preview.height]).toEqual([8, 10]); // the 1/8-size latent
  });

  it('gives the same bytes for the same request, and the guidance changes the image', async () => {
    const [a] = await generate(request());
    const [b] = await generate(request());
    const [c] = await generate(request({ guidance: 8 }));
    expect(a.png.equals(b.png)).toBe(true);
    expect((await pixelsOf(a.png)).data.equals((await pixelsOf(c.png)).data)).toBe(false);
    expect(readParameters(a.png)!.guidance).toBe(3.5); // dev's default
  });

  it('reads (word:1.3) as plain text: weights do not reach T5 or CLIP pooled', async () => {
    const [plain] = await generate(request({ prompt: 'a cat on the sea' }));
    const [weighted] = await generate(request({ prompt: 'a (cat:1.3) on [the] sea' }));
    expect((await pixelsOf(plain.png)).data.equals((await pixelsOf(weighted.png)).data)).toBe(true);
  });

  it('img2img starts from the encoded base image: low strength stays close to it, strength changes the result', async () => {
    const base = await gradientImage(96, 80);
    const txt2img = await pixelsOf((await generate(request()))[0].png);
    const light = await pixelsOf((await generate(request({ baseImage: base, denoiseStrength: 0.3, steps: 10 })))[0].png);
    const strong = await pixelsOf((await generate(request({ baseImage: base, denoiseStrength: 0.9, steps: 10 })))[0].png);
    expect(light.data.equals(strong.data)).toBe(false);
    expect(light.data.equals(txt2img.data)).toBe(false);
    const [image] = await generate(request({ baseImage: base, denoiseStrength: 0.5 }));
    expect(readParameters(image.png)!.denoiseStrength).toBe(0.5);
  });

  it('refuses samplers and schedules that are wrong for a flow model, and sizes off the 16-pixel grid', async () => {
    for (const overrides of [{ sampler: 'euler_a' as const }, { sampler: 'dpmpp_2m_sde' as const }, { schedule: 'karras' as const }]) {
      const error = await generate(request(overrides)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toMatch(/flow-matching models and run the Euler sampler with the Normal schedule only/);
    }
    await expect(generate(request({ width: 72 }))).rejects.toThrow(/width: Flux sizes must be multiples of 16/);
  });

  it('refuses guidance for SD models', async () => {
    const sd = (await makeTinyModels(root))['tiny-sd15'];
    const error = await generate({ ...request({ guidance: 3 }), modelDir: sd, model: { id: 'sd', name: 'SD', family: 'SD15', path: 'tiny-sd15' }, cfgScale: 7 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(/guidance: SD15 models take no distilled guidance/);
  });
});
