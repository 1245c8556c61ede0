import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '../../src/models/index.js';
import { allFinite, NonFiniteOutputError } from '../../src/pipeline/errors.js';
import { generate } from '../../src/pipeline/generate.js';
import type { Progress } from '../../src/pipeline/preview.js';
import { overflowingSdxl, tinyModels, tinyRequest, type TinyModels } from './fixtures.js';

let models: TinyModels;
beforeAll(async () => {
  models = await tinyModels();
});
afterAll(() => models.cleanup());

describe('a model that overflows half precision fails the generation, never gives a black image', () => {
  it('a UNet: NON_FINITE_OUTPUT at the first step, before any further step or decode', async () => {
    const dir = await overflowingSdxl(models.dirs.sdxl, path.join(models.root, 'sdxl-overflowing-unet'), 'unet');
    const model = await loadModel(dir);
    const run = vi.spyOn(model.unet, 'run');
    const decode = vi.spyOn(model.vaeDecoder, 'decode');
    const progress: Progress[] = [];

    const error = await generate(tinyRequest(models, 'sdxl', { modelDir: dir, steps: 10 }), { onProgress: (p) => void progress.push(p) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteOutputError);
    expect(error).toMatchObject({
      code: 'NON_FINITE_OUTPUT',
      stage: 'unet',
      message: expect.stringMatching(/^the UNet produced NaN or infinite values at noise level σ = 14\.6: .*fp16.*CFG scale/),
    });
    expect(run).toHaveBeenCalledTimes(1);
    expect(progress).toEqual([]);
    expect(decode).not.toHaveBeenCalled();
  });

  it('a VAE decoder: NON_FINITE_OUTPUT naming the image', async () => {
    const dir = await overflowingSdxl(models.dirs.sdxl, path.join(models.root, 'sdxl-overflowing-vae'), 'vae_decoder');
    const error = await generate(tinyRequest(models, 'sdxl', { modelDir: dir, seed: 77 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteOutputError);
    expect(error).toMatchObject({
      code: 'NON_FINITE_OUTPUT',
      stage: 'vae_decoder',
      message: expect.stringMatching(/^the VAE decoder produced NaN or infinite values for the image of seed 77: .*fp32 VAE/),
    });
  });
});

describe('allFinite', () => {
  it('finds a NaN or an infinity anywhere, and takes no large finite value for one', () => {
    const largest = 3.4028234663852886e38; // float32's largest finite value
    expect(allFinite(new Float32Array(100_000).fill(largest))).toBe(true);
    expect(allFinite(new Float32Array(100_000).fill(-largest))).toBe(true);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const values = new Float32Array(10).fill(1);
      values[7] = bad;
      expect(allFinite(values)).toBe(false);
    }
    expect(allFinite(Float32Array.of(Infinity, -Infinity))).toBe(false);
  });
});
