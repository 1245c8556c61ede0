import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUTOMATIC_SCHEDULE, SAMPLERS, SCHEDULES, type SamplerId, type ScheduleId } from '@easel/schema';
import { loadModel, ModelLoadError } from '../../src/models/index.js';
import { GenerationCancelledError, InvalidRequestError } from '../../src/pipeline/errors.js';
import { generate, type GenerationRequest } from '../../src/pipeline/generate.js';
import { readParameters } from '../../src/pipeline/png.js';
import type { Progress } from '../../src/pipeline/preview.js';
import { gradientImage, pixelsOf, pixelStats, tinyModels, tinyRequest, type TinyKind, type TinyModels } from './fixtures.js';

let models: TinyModels;
let baseImage: Buffer;

beforeAll(async () => {
  models = await tinyModels();
  baseImage = await gradientImage();
});
afterAll(() => models.cleanup());
afterEach(() => vi.restoreAllMocks());

const KINDS: TinyKind[] = ['sd15', 'sdxl'];

/** Spies on a model's UNet calls: the batch rows and timestep of each. */
async function watchUNet(kind: TinyKind) {
  const model = await loadModel(models.dirs[kind]);
  return vi.spyOn(model.unet, 'run');
}

/** The largest latent magnitude the VAE decoder was given, in the sampler's units (before the VAE's scaling). */
async function watchLatents(kind: TinyKind) {
  const model = await loadModel(models.dirs[kind]);
  const decode = vi.spyOn(model.vaeDecoder, 'decode');
  return () => Math.max(...decode.mock.calls.flatMap(([input]) => Array.from(input.data, (v) => Math.abs(v * model.vaeScalingFactor))));
}

/** Model calls per run: Heun and DPM++ SDE evaluate twice per step, except on the last step to σ = 0. */
const TWO_CALLS_PER_STEP: readonly SamplerId[] = ['heun', 'dpm2', 'dpm2_a', 'dpmpp_2s_a', 'dpmpp_sde', 'restart'];
/** Two-call samplers make one call on a last step to σ = 0; KL Optimal ends at σ_min instead. */
const unetCalls = (sampler: SamplerId, schedule: ScheduleId, steps: number) =>
  TWO_CALLS_PER_STEP.includes(sampler) ? 2 * steps - (schedule === 'kl_optimal' ? 0 : 1) : steps;

/** Every sampler at its automatic schedule, every schedule with Euler a, and a two-call sampler ending at σ_min. */
const COMBINATIONS: [SamplerId, ScheduleId][] = [
  ...SAMPLERS.map((sampler) => [sampler, AUTOMATIC_SCHEDULE[sampler]] as [SamplerId, ScheduleId]),
  ...SCHEDULES.map((schedule) => ['euler_a', schedule] as [SamplerId, ScheduleId]),
  ['heun', 'kl_optimal'],
];

/**
 * Final latents of the tiny models stay within a few units at CFG 7 (real SD latents: about ±4);
 * a model that feeds its output back with a gain drives them to 10⁴ and past fp16's range.
 */
const LATENT_LIMIT = 40;

/** A picture, not a flat (all-black) image nor one clipped to black and white almost everywhere. */
function expectPicture(data: Uint8Array) {
  const { std, clipped, levels } = pixelStats(data);
  expect(levels).toBeGreaterThan(64);
  expect(std).toBeGreaterThan(20);
  expect(clipped).toBeLessThan(0.8);
}

describe.each(KINDS)('the samplers and schedules on the tiny %s model', (kind) => {
  describe.each(['txt2img', 'img2img'] as const)('%s', (mode) => {
    it.each(COMBINATIONS)('%s / %s', async (sampler, schedule) => {
      const img2img = mode === 'img2img';
      const request = tinyRequest(models, kind, { sampler, schedule, steps: 3, ...(img2img ? { baseImage, denoiseStrength: 0.6 } : {}) });
      const run = await watchUNet(kind);
      const largestLatent = await watchLatents(kind);
      const images = await generate({ ...request, batchSize: 2 });

      // img2img at strength 0.6 of 3 steps runs ⌊0.6·3⌋ + 1 = 2 of them, from a lower noise level
      expect(run).toHaveBeenCalledTimes(unetCalls(sampler, schedule, img2img ? 2 : 3));
      const firstTimestep = run.mock.calls[0][0].timestep;
      if (img2img) expect(firstTimestep).toBeLessThan(990);
      else expect(firstTimestep).toBeCloseTo(999, 6);
      expect(largestLatent()).toBeLessThan(LATENT_LIMIT);
      expect(images.map(({ seed, width, height }) => ({ seed, width, height }))).toEqual([
        { seed: 1234, width: 64, height: 64 },
        { seed: 1235, width: 64, height: 64 },
      ]);
      expect(readParameters(images[0].png)).toMatchObject({ sampler, schedule, steps: 3, denoiseStrength: img2img ? 0.6 : undefined });

      const [first, second] = await Promise.all(images.map((image) => pixelsOf(image.png)));
      expect([first.width, first.height, first.channels]).toEqual([64, 64, 3]);
      expectPicture(first.data);
      expectPicture(second.data);
      expect(second.data).not.toEqual(first.data);

      // The same seed alone gives the same image, noise and all; another prompt, another image.
      const [again] = await generate({ ...request, seed: 1235 });
      expect((await pixelsOf(again.png)).data).toEqual(second.data);
      const [otherPrompt] = await generate({ ...request, prompt: 'a lighthouse in a storm' });
      expect((await pixelsOf(otherPrompt.png)).data).not.toEqual(first.data);
    });
  });
});

describe('determinism and seeds', () => {
  it('draws its noise from the chosen source, A1111 style: variation seeds mix, ENSD reseeds the step noise', async () => {
    const pixels = async (settings: Partial<GenerationRequest>) => (await pixelsOf((await generate(tinyRequest(models, 'sd15', settings)))[0].png)).data;
    const euler = { sampler: 'euler', schedule: 'normal', seed: 5 } as const;
    expect(await pixels({ ...euler, rngSource: 'CPU' })).not.toEqual(await pixels({ ...euler, rngSource: 'NV' }));
    // Variation strength 1 is the variation seed's noise (to float rounding): seed 8's picture.
    const seed8 = await pixels({ ...euler, seed: 8 });
    const varied = await pixels({ ...euler, subseed: 8, subseedStrength: 1 });
    expect(Math.max(...varied.map((value, j) => Math.abs(value - seed8[j])))).toBeLessThanOrEqual(1);
    expect(await pixels({ ...euler, subseed: 8, subseedStrength: 0.5 })).not.toEqual(seed8);
    // ENSD moves only the noise drawn after the initial noise: Euler a's, not Euler's.
    expect(await pixels({ ...euler, etaNoiseSeedDelta: 31337 })).toEqual(await pixels(euler));
    const ancestral = { ...euler, sampler: 'euler_a' } as const;
    expect(await pixels({ ...ancestral, etaNoiseSeedDelta: 31337 })).not.toEqual(await pixels(ancestral));
  });

  it.each(KINDS)('the same request gives bit-identical PNGs (%s)', async (kind) => {
    const request = tinyRequest(models, kind, { sampler: 'dpmpp_2m_sde', schedule: 'karras', batchSize: 2 });
    const first = await generate(request);
    const second = await generate(request);
    expect(first.map((image) => image.png)).toEqual(second.map((image) => image.png));
    expect(first.map((image) => image.seed)).toEqual([1234, 1235]);
    expect(Buffer.compare(first[0].png, first[1].png)).not.toBe(0);
  });

  it.each(['euler_a', 'dpmpp_2m_sde', 'dpmpp_sde', 'lcm', 'dpmpp_2m'] as const)(
    'image i of a batch is the image of seed + i alone, noise and all (%s)',
    async (sampler) => {
      const batch = await generate(tinyRequest(models, 'sd15', { sampler, batchSize: 3, seed: 50 }));
      const alone = await generate(tinyRequest(models, 'sd15', { sampler, batchSize: 1, seed: 52 }));
      expect(batch[2].seed).toBe(52);
      const pixels = (await pixelsOf(batch[2].png)).data;
      expect(new Set(pixels).size).toBeGreaterThan(8); // not a flat image, which would match trivially
      expect(pixels).toEqual((await pixelsOf(alone[0].png)).data);
      expect(batch[2].png).toEqual(alone[0].png);
    },
  );

  it('a different seed gives a different image', async () => {
    const [a] = await generate(tinyRequest(models, 'sdxl', { seed: 1 }));
    const [b] = await generate(tinyRequest(models, 'sdxl', { seed: 2 }));
    expect((await pixelsOf(a.png)).data).not.toEqual((await pixelsOf(b.png)).data);
  });
});

describe("the model's own scheduler config", () => {
  it('decides the noise levels and the prediction type', async () => {
    const variants = {
      'linear-betas': { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 },
      'v-prediction': { prediction_type: 'v_prediction' },
    };
    const dirs = [models.dirs.sd15];
    for (const [name, changes] of Object.entries(variants)) {
      const dir = path.join(models.root, `sd15-${name}`);
      await cp(models.dirs.sd15, dir, { recursive: true });
      const file = path.join(dir, 'scheduler/scheduler_config.json');
      await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...changes }));
      dirs.push(dir);
    }
    const images = await Promise.all(dirs.map((modelDir) => generate(tinyRequest(models, 'sd15', { modelDir }))));
    const [scaledLinear, linear, vPrediction] = await Promise.all(images.map(([image]) => pixelsOf(image.png)));
    expect(linear.data).not.toEqual(scaledLinear.data);
    expect(vPrediction.data).not.toEqual(scaledLinear.data);
  });
});

describe('PNG metadata', () => {
  it('carries the A1111 infotext of txt2img, negative prompt and clip skip included', async () => {
    const [, second] = await generate(tinyRequest(models, 'sd15', { sampler: 'dpmpp_2m_sde', schedule: 'karras', clipSkip: 2, cfgScale: 6.5, batchSize: 2, seed: 9 }));
    const parameters = readParameters(second.png);
    expect(parameters).toMatchObject({
      prompt: 'a (cat:1.2) on a sofa',
      negativePrompt: 'blurry',
      steps: 3,
      sampler: 'dpmpp_2m_sde',
      schedule: 'karras',
      cfgScale: 6.5,
      seed: 10,
      width: 64,
      height: 64,
      model: 'Tiny SD15',
      clipSkip: 2,
      denoiseStrength: undefined,
    });
    expect(parameters?.fields).toEqual({
      Steps: '3',
      Sampler: 'DPM++ 2M SDE',
      'Schedule type': 'Karras',
      'CFG scale': '6.5',
      Seed: '10',
      Size: '64x64',
      Model: 'Tiny SD15',
      'Clip skip': '2',
      RNG: 'NV',
    });
  });

  it("records the random number source, variation seed and ENSD in A1111's words", async () => {
    const request = { sampler: 'euler_a', schedule: 'normal', rngSource: 'CPU', subseed: 77, subseedStrength: 0.3, etaNoiseSeedDelta: 31337, batchSize: 2 } as const;
    const [, second] = await generate(tinyRequest(models, 'sd15', request));
    expect(readParameters(second.png)?.fields).toMatchObject({ 'Variation seed': '78', 'Variation seed strength': '0.3', ENSD: '31337', RNG: 'CPU' });
    // Euler draws no noise after the initial one: A1111 leaves ENSD out, and so do we.
    const [euler] = await generate(tinyRequest(models, 'sd15', { ...request, sampler: 'euler' }));
    expect(readParameters(euler.png)?.fields).not.toHaveProperty('ENSD');
  });

  it('adds the denoising strength for img2img', async () => {
    const [image] = await generate(tinyRequest(models, 'sdxl', { baseImage, denoiseStrength: 0.35 }));
    expect(readParameters(image.png)?.fields['Denoising strength']).toBe('0.35');
  });
});

describe('img2img', () => {
  it('starts from the noise level its strength gives, the A1111 way', async () => {
    const run = await watchUNet('sd15');
    const progress: Progress[] = [];
    // normal schedule over 10 steps visits timesteps 999, 888, …, 0; strength 0.5 runs the last 6
    await generate(tinyRequest(models, 'sd15', { baseImage, denoiseStrength: 0.5, steps: 10 }), { onProgress: (p) => void progress.push(p) });
    expect(run).toHaveBeenCalledTimes(6);
    expect(run.mock.calls[0][0].timestep).toBeCloseTo(555, 3);
    expect(progress.map((p) => `${p.step}/${p.totalSteps}`)).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
  });

  it('depends on the base image, and differs from txt2img with the same seed', async () => {
    const request = tinyRequest(models, 'sd15', { denoiseStrength: 0.5 });
    const [fromGradient] = await generate({ ...request, baseImage });
    const [fromOther] = await generate({ ...request, baseImage: await gradientImage(40, 80) });
    const [fromNoise] = await generate(request);
    const pixels = await Promise.all([fromGradient, fromOther, fromNoise].map((image) => pixelsOf(image.png)));
    expect(pixels[0].data).not.toEqual(pixels[1].data);
    expect(pixels[0].data).not.toEqual(pixels[2].data);
  });

  it('needs the VAE encoder, which text-to-image does without', async () => {
    const dir = path.join(models.root, 'sd15-without-encoder');
    await cp(models.dirs.sd15, dir, { recursive: true });
    await rm(path.join(dir, 'vae_encoder'), { recursive: true });
    const request = tinyRequest(models, 'sd15', { modelDir: dir });
    await expect(generate(request)).resolves.toHaveLength(1);
    await expect(generate({ ...request, baseImage })).rejects.toMatchObject({ code: 'MODEL_INCOMPLETE', message: expect.stringMatching(/vae_encoder.*img2img/) });
  });
});

describe('classifier-free guidance', () => {
  it.each(KINDS)('runs cond and uncond as one UNet call of 2B rows; CFG 1 runs B rows only (%s)', async (kind) => {
    const run = await watchUNet(kind);
    await generate(tinyRequest(models, kind, { batchSize: 2, steps: 2, cfgScale: 5 }));
    expect(run.mock.calls.map(([input]) => input.sample.dims[0])).toEqual([4, 4]);
    run.mockClear();
    const [image] = await generate(tinyRequest(models, kind, { batchSize: 2, steps: 2, cfgScale: 1 }));
    expect(run.mock.calls.map(([input]) => input.sample.dims[0])).toEqual([2, 2]);
    expect(readParameters(image.png)?.cfgScale).toBe(1);
  });

  it('changes the image with the scale and with the negative prompt', async () => {
    const images = await Promise.all(
      [{ cfgScale: 7 }, { cfgScale: 3 }, { cfgScale: 7, negativePrompt: 'watermark, text' }].map((o) => generate(tinyRequest(models, 'sd15', o))),
    );
    const pixels = await Promise.all(images.map(([image]) => pixelsOf(image.png)));
    expect(pixels[0].data).not.toEqual(pixels[1].data);
    expect(pixels[0].data).not.toEqual(pixels[2].data);
  });
});

describe('progress and previews', () => {
  it.each(KINDS)('reports every step in order, with a WebP preview every N steps (%s)', async (kind) => {
    const progress: Progress[] = [];
    await generate(tinyRequest(models, kind, { steps: 5, previewEvery: 2, width: 96, height: 64 }), {
      onProgress: async (p) => {
        if (p.step === 1) await new Promise((resolve) => setTimeout(resolve, 10)); // a slow consumer keeps its order
        progress.push(p);
      },
    });
    expect(progress.map((p) => [p.step, p.totalSteps, p.previewWebp !== undefined])).toEqual([
      [1, 5, false],
      [2, 5, true],
      [3, 5, false],
      [4, 5, true],
      [5, 5, false],
    ]);
    const preview = await sharp(progress[1].previewWebp!).metadata();
    expect(preview).toMatchObject({ format: 'webp', width: 12, height: 8 });
  });

  it('sends no previews when previewEvery is 0, and fails the generation when the callback throws', async () => {
    const steps: number[] = [];
    await generate(tinyRequest(models, 'sd15', { previewEvery: 0 }), { onProgress: (p) => void steps.push(p.previewWebp ? -1 : p.step) });
    expect(steps).toEqual([1, 2, 3]);
    await expect(
      generate(tinyRequest(models, 'sd15'), {
        onProgress: () => {
          throw new Error('progress consumer broke');
        },
      }),
    ).rejects.toThrow('progress consumer broke');
  });
});

describe('cancelling', () => {
  it('stops between steps once the signal fires', async () => {
    const abort = new AbortController();
    const unet = (await loadModel(models.dirs.sd15)).unet;
    const original = unet.run.bind(unet);
    const run = vi.spyOn(unet, 'run').mockImplementation((input) => {
      if (run.mock.calls.length === 2) abort.abort(); // during step 2
      return original(input);
    });
    const error = await generate(tinyRequest(models, 'sd15', { steps: 10 }), { signal: abort.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GenerationCancelledError);
    expect(error).toMatchObject({ name: 'AbortError', code: 'CANCELLED', message: 'generation cancelled after step 2 of 10' });
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('does not start when the signal has already fired', async () => {
    const run = await watchUNet('sdxl');
    await expect(generate(tinyRequest(models, 'sdxl'), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(GenerationCancelledError);
    expect(run).not.toHaveBeenCalled();
  });
});

describe('bad requests get clear errors', () => {
  const invalid = async (overrides: Record<string, unknown>, message: RegExp) => {
    const error = await generate({ ...tinyRequest(models, 'sd15'), ...overrides } as GenerationRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(message) });
  };

  it('an unknown sampler', () => invalid({ sampler: 'dpm_fast' }, /sampler.*euler_a/));
  it('0 steps', () => invalid({ steps: 0 }, /steps: .*>=\s*1/));
  it('a size that is not a multiple of 8', () => invalid({ width: 100 }, /width: must be a multiple of 8/));
  it('a model entry without a family', () => invalid({ model: { id: 'x', name: 'x', path: 'x' } }, /model\.family/));
  it('a Flux model, which this runtime does not run', () => invalid({ model: { id: 'f', name: 'Flux', family: 'FLUX', path: 'f' } }, /FLUX models are not supported/));
  it('a catalog entry whose family does not match the folder', () =>
    invalid({ model: { id: 'x', name: 'Mislabelled', family: 'SDXL', path: 'tiny-sd15' } }, /listed as SDXL \(sdxl\).*holds an sd1 pipeline/));

  it('a corrupt base image', async () => {
    await invalid({ baseImage: Buffer.from('GIF89a this is not really a gif') }, /base image could not be read/);
    await invalid({ baseImage: baseImage.subarray(0, baseImage.length / 3) }, /base image could not be read/);
  });

  it('missing model files', async () => {
    const dir = path.join(models.root, 'sd15-without-unet');
    await cp(models.dirs.sd15, dir, { recursive: true });
    await rm(path.join(dir, 'unet'), { recursive: true });
    const error = await generate(tinyRequest(models, 'sd15', { modelDir: dir })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error).toMatchObject({ code: 'MODEL_INCOMPLETE', message: expect.stringContaining('unet/model.onnx') });
    await expect(generate(tinyRequest(models, 'sd15', { modelDir: path.join(models.root, 'nowhere') }))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });
});
