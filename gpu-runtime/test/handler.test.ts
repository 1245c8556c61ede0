import { randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { makeTinyModels } from '../src/tiny-models/index.js';
import type { GenerationEvent } from '@easel/schema';
import { JOB_CONTRACT_VERSION, type GenerationJob } from '@easel/schema';
import { loadFunctionConfig } from '../src/config.js';
import { createHandler } from '../src/handler.js';
import { readParameters } from '../src/pipeline/png.js';
import { overflowingSdxl } from './pipeline/fixtures.js';
import { startCallbackReceiver, type CallbackReceiver } from './support/callback-receiver.js';

const secret = randomBytes(32).toString('hex');
let modelsDir: string;
let receiver: CallbackReceiver;
let handler: ReturnType<typeof createHandler>;

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'easel-handler-'));
  await makeTinyModels(modelsDir);
  receiver = await startCallbackReceiver(secret);
  handler = makeHandler({});
});
afterAll(async () => {
  await receiver.close();
  await rm(modelsDir, { recursive: true, force: true });
});

function makeHandler(env: Record<string, string>) {
  return createHandler(loadFunctionConfig({ MODELS_DIR: modelsDir, ...env }), pino({ level: 'silent' }));
}

function job(overrides: Omit<Partial<GenerationJob>, 'settings'> & { settings?: Partial<GenerationJob['settings']> } = {}): GenerationJob {
  const { settings, ...rest } = overrides;
  return {
    version: JOB_CONTRACT_VERSION,
    jobId: randomUUID(),
    attempt: 1,
    model: { id: 'tiny-sd15', name: 'Tiny SD 1.5', family: 'SD15', path: 'tiny-sd15' },
    settings: {
      prompt: 'a lighthouse at dusk, (oil painting:1.2)',
      negativePrompt: 'blurry',
      width: 64,
      height: 64,
      steps: 4,
      cfgScale: 7,
      sampler: 'euler_a',
      schedule: 'karras',
      clipSkip: 1,
      seed: 1234,
      batchSize: 1,
      denoiseStrength: 0.75,
      previewEvery: 1,
      rngSource: 'NV',
      subseed: 0,
      subseedStrength: 0,
      etaNoiseSeedDelta: 0,
      ...settings,
    },
    callback: { url: `${receiver.url}/callback`, secret },
    ...rest,
  };
}

const eventsOf = (jobId: string) => receiver.events.filter(({ event }) => event.jobId === jobId);

function only<T extends GenerationEvent['type']>(events: GenerationEvent[], type: T) {
  return events.filter((event): event is Extract<GenerationEvent, { type: T }> => event.type === type);
}

describe('a job that runs to the end', () => {
  test('posts started, ordered progress with previews, then completed with PNGs that carry their settings', async () => {
    const request = job({ settings: { batchSize: 2 } });
    const outcome = await handler(request);
    expect(outcome).toEqual({ jobId: request.jobId, attempt: 1, status: 'completed' });

    const received = eventsOf(request.jobId);
    expect(received.every(({ signed }) => signed)).toBe(true);
    const events = received.map(({ event }) => event);
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, i) => i));
    expect(events.every((event) => event.attempt === 1)).toBe(true);
    expect(events[0].type).toBe('started');
    expect(events.at(-1)!.type).toBe('completed');

    // Progress may be coalesced behind a slow callback, but never reordered, and the last step arrives.
    const progress = only(events, 'progress');
    const steps = progress.map((event) => event.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps.at(-1)).toBe(4);
    expect(progress.every((event) => event.totalSteps === 4)).toBe(true);
    const preview = progress.find((event) => event.previewWebp)!.previewWebp!;
    expect(await sharp(Buffer.from(preview, 'base64')).metadata()).toMatchObject({ format: 'webp', width: 8, height: 8 });

    const [completed] = only(events, 'completed');
    expect(completed.images.map(({ seed, width, height }) => ({ seed, width, height }))).toEqual([
      { seed: 1234, width: 64, height: 64 },
      { seed: 1235, width: 64, height: 64 },
    ]);
    const png = Buffer.from(completed.images[1].png, 'base64');
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });
    expect(readParameters(png)).toMatchObject({
      prompt: 'a lighthouse at dusk, (oil painting:1.2)',
      negativePrompt: 'blurry',
      steps: 4,
      sampler: 'euler_a',
      schedule: 'karras',
      cfgScale: 7,
      seed: 1235,
      width: 64,
      height: 64,
      model: 'Tiny SD 1.5',
    });
    const { loadMs, inferenceMs, totalMs } = completed.timings;
    expect(totalMs).toBeGreaterThanOrEqual(loadMs + inferenceMs - 1);
    expect(inferenceMs).toBeGreaterThan(0);
  });

  test('img2img on SDXL fetches the base image with a signed request', async () => {
    const base = await sharp({ create: { width: 96, height: 80, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
    const request = job({
      model: { id: 'tiny-sdxl', name: 'Tiny SDXL', family: 'SDXL', path: 'tiny-sdxl' },
      baseImageUrl: receiver.serve(`/uploads/${randomUUID()}`, base),
      settings: { width: 64, height: 64, steps: 6, denoiseStrength: 0.5, sampler: 'dpmpp_2m', previewEvery: 2 },
    });
    expect(await handler(request)).toMatchObject({ status: 'completed' });

    const download = receiver.downloads.find(({ url }) => request.baseImageUrl!.endsWith(url))!;
    expect(download.signed).toBe(true);
    const events = eventsOf(request.jobId).map(({ event }) => event);
    // A1111's img2img runs the last ⌊strength · steps⌋ + 1 steps of the schedule.
    expect(only(events, 'progress').at(-1)).toMatchObject({ step: 4, totalSteps: 4 });
    const [completed] = only(events, 'completed');
    expect(readParameters(Buffer.from(completed.images[0].png, 'base64'))).toMatchObject({ denoiseStrength: 0.5, model: 'Tiny SDXL' });
  });
});

describe('cancelling', () => {
  test('a cancel in the answer to a progress event stops the job between steps', async () => {
    const request = job({ settings: { steps: 150, width: 128, height: 128, previewEvery: 0 } });
    receiver.reply = (event) => ({ cancel: event.jobId === request.jobId && event.type === 'progress' });
    try {
      expect(await handler(request)).toMatchObject({ status: 'cancelled', code: 'CANCELLED' });
    } finally {
      receiver.reply = () => ({ cancel: false });
    }
    const events = eventsOf(request.jobId).map(({ event }) => event);
    expect(only(events, 'completed')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'failed', code: 'CANCELLED' });
    expect(only(events, 'progress').at(-1)!.step).toBeLessThan(150);
  });

  test('an API that no longer knows the attempt (409) stops it too', async () => {
    const request = job();
    receiver.reply = (event) => (event.jobId === request.jobId ? { status: 409 } : { cancel: false });
    try {
      expect(await handler(request)).toMatchObject({ status: 'cancelled' });
    } finally {
      receiver.reply = () => ({ cancel: false });
    }
    const types = eventsOf(request.jobId).map(({ event }) => event.type);
    expect(types).toEqual(['started', 'failed']);
  });
});

describe('failures are reported, never left silent', () => {
  async function failureOf(request: unknown, run = handler) {
    const outcome = await run(request);
    const jobId = (request as GenerationJob).jobId;
    const events = eventsOf(jobId).map(({ event }) => event);
    expect(eventsOf(jobId).every(({ signed }) => signed)).toBe(true);
    const failed = events.at(-1)!;
    expect(failed.type).toBe('failed');
    expect(outcome).toMatchObject({ status: 'failed', code: (failed as { code: string }).code });
    return { events, failed: failed as Extract<GenerationEvent, { type: 'failed' }> };
  }

  test('an invalid job with a usable callback: INVALID_JOB naming the field', async () => {
    const request = job();
    const { events, failed } = await failureOf({ ...request, settings: { ...request.settings, steps: 0, sampler: 'nope' } });
    expect(events).toHaveLength(1);
    expect(failed.code).toBe('INVALID_JOB');
    expect(failed.reason).toMatch(/settings\.steps/);
    expect(failed.reason).toMatch(/settings\.sampler/);
  });

  test('a job from another contract version says so', async () => {
    const { failed } = await failureOf({ ...job(), version: JOB_CONTRACT_VERSION + 1 });
    expect(failed.code).toBe('INVALID_JOB');
    expect(failed.reason).toContain(`contract version ${JOB_CONTRACT_VERSION + 1}`);
  });

  test('an invalid job without a callback throws, so the platform records it', async () => {
    await expect(handler({ version: JOB_CONTRACT_VERSION, jobId: 'x' })).rejects.toThrow(/job is invalid.*no usable callback/s);
  });

  test('a model folder that is not there: MODEL_NOT_INSTALLED, before started', async () => {
    const { events, failed } = await failureOf(job({ model: { id: 'm', name: 'Missing Model', family: 'SD15', path: 'missing-model' } }));
    expect(events).toHaveLength(1);
    expect(failed.code).toBe('MODEL_NOT_INSTALLED');
    expect(failed.reason).toContain('Missing Model');
    expect(failed.reason).toContain('npm run models:fetch');
  });

  test('CUDA required where it cannot be used (no CUDA build of onnxruntime here): GPU_UNAVAILABLE, not MODEL_INVALID', async () => {
    // A folder of its own, so that no earlier test's CPU sessions are already cached for it.
    await cp(path.join(modelsDir, 'tiny-sd15'), path.join(modelsDir, 'tiny-sd15-cuda'), { recursive: true });
    vi.stubEnv('EASEL_EXECUTION_PROVIDER', 'cuda');
    try {
      const { events, failed } = await failureOf(job({ model: { id: 'c', name: 'Tiny SD 1.5', family: 'SD15', path: 'tiny-sd15-cuda' } }));
      expect(events.map((event) => event.type)).toEqual(['started', 'failed']);
      expect(failed.code).toBe('GPU_UNAVAILABLE');
      expect(failed.reason).toMatch(/CUDA/);
      expect(failed.reason).toMatch(/EASEL_EXECUTION_PROVIDER=auto .* or cpu/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test('a catalog entry of the wrong family: INVALID_REQUEST after started', async () => {
    const { events, failed } = await failureOf(job({ model: { id: 'x', name: 'Mislabelled', family: 'SDXL', path: 'tiny-sd15' } }));
    expect(events[0].type).toBe('started');
    expect(failed.code).toBe('INVALID_REQUEST');
    expect(failed.reason).toMatch(/SDXL/);
  });

  test('a model that overflows half precision: NON_FINITE_OUTPUT saying which part and what to try', async () => {
    await overflowingSdxl(path.join(modelsDir, 'tiny-sdxl'), path.join(modelsDir, 'tiny-sdxl-overflowing'), 'unet');
    const { events, failed } = await failureOf(job({ model: { id: 'o', name: 'Overflowing', family: 'SDXL', path: 'tiny-sdxl-overflowing' } }));
    expect(events.map((event) => event.type)).toEqual(['started', 'failed']);
    expect(failed.code).toBe('NON_FINITE_OUTPUT');
    expect(failed.reason).toMatch(/UNet produced NaN or infinite values.*fp16/);
  });

  test('a base image that is not an image: BASE_IMAGE_INVALID', async () => {
    const url = receiver.serve(`/uploads/${randomUUID()}`, Buffer.from('definitely not a picture'));
    const { events, failed } = await failureOf(job({ baseImageUrl: url }));
    expect(events).toHaveLength(1);
    expect(failed.code).toBe('BASE_IMAGE_INVALID');
  });

  test('a base image the API will not serve: BASE_IMAGE_UNAVAILABLE with the status', async () => {
    const { failed } = await failureOf(job({ baseImageUrl: `${receiver.url}/uploads/${randomUUID()}` }));
    expect(failed.code).toBe('BASE_IMAGE_UNAVAILABLE');
    expect(failed.reason).toContain('HTTP 404');
  });

  test('a base image over the limit: BASE_IMAGE_TOO_LARGE', async () => {
    const big = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const url = receiver.serve(`/uploads/${randomUUID()}`, big);
    const { failed } = await failureOf(job({ baseImageUrl: url }), makeHandler({ BASE_IMAGE_MAX_BYTES: String(big.length - 1) }));
    expect(failed.code).toBe('BASE_IMAGE_TOO_LARGE');
    expect(failed.reason).toContain(String(big.length - 1));
  });

  test('a job about to outlive the function: TIMEOUT, reported before the platform kills it', async () => {
    const request = job({ settings: { steps: 150, width: 128, height: 128, previewEvery: 0 } });
    const { failed } = await failureOf(request, (event) => handler(event, { getRemainingTimeInMillis: () => 10_050 }));
    expect(failed.code).toBe('TIMEOUT');
  });
});
