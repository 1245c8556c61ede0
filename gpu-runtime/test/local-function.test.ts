import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTinyModels } from '../src/tiny-models/index.js';
import { JOB_CONTRACT_VERSION, type GenerationJob } from '@easel/schema';
import { DEFAULT_FUNCTION_NAME, startLocalFunction } from '../src/local-function.js';
import type { LocalInvokeServer } from '../src/local-invoke.js';
import { startCallbackReceiver, type CallbackReceiver } from './support/callback-receiver.js';
import { spawnLocalFunction } from './support/local-function-process.js';

const secret = randomBytes(32).toString('hex');
let modelsDir: string;
let receiver: CallbackReceiver;

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'easel-local-function-'));
  await makeTinyModels(modelsDir);
  receiver = await startCallbackReceiver(secret);
});
afterAll(async () => {
  await receiver.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const lambdaAt = (endpoint: string) =>
  new LambdaClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function job(steps: number, size = 64): GenerationJob {
  return {
    version: JOB_CONTRACT_VERSION,
    jobId: randomUUID(),
    attempt: 1,
    model: { id: 'tiny-sdxl', name: 'Tiny SDXL', family: 'SDXL', path: 'tiny-sdxl' },
    settings: {
      prompt: 'a red fox in snow',
      negativePrompt: '',
      width: size,
      height: size,
      steps,
      cfgScale: 5,
      sampler: 'euler',
      schedule: 'normal',
      clipSkip: 1,
      seed: 7,
      batchSize: 1,
      denoiseStrength: 0.75,
      previewEvery: 0,
      rngSource: 'NV',
      subseed: 0,
      subseedStrength: 0,
      etaNoiseSeedDelta: 0,
    },
    callback: { url: `${receiver.url}/callback`, secret },
  };
}

const typesOf = (jobId: string) => receiver.events.filter(({ event }) => event.jobId === jobId).map(({ event }) => event.type);

describe('the local function in-process, through the real AWS SDK', () => {
  let server: LocalInvokeServer;
  let lambda: LambdaClient;

  beforeAll(async () => {
    server = await startLocalFunction({ modelsDir, logger: pino({ level: 'silent' }) });
    lambda = lambdaAt(server.url);
  });
  afterAll(() => server.close());

  test('an Event invocation returns 202 at once and the job reports to its callback', async () => {
    const request = job(3);
    const out = await lambda.send(new InvokeCommand({ FunctionName: DEFAULT_FUNCTION_NAME, InvocationType: 'Event', Payload: payload(request) }));
    expect(out.StatusCode).toBe(202);
    await receiver.waitFor('completed', request.jobId);
    const types = typesOf(request.jobId);
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('completed');
    expect(new Set(types.slice(1, -1))).toEqual(new Set(['progress']));
  });

  test('a RequestResponse invocation answers with the outcome', async () => {
    const request = job(2);
    const out = await lambda.send(new InvokeCommand({ FunctionName: DEFAULT_FUNCTION_NAME, Payload: payload(request) }));
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toEqual({ jobId: request.jobId, attempt: 1, status: 'completed' });
  });

  test('a job with no usable callback comes back as a function error', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: DEFAULT_FUNCTION_NAME, Payload: payload({ hello: 'world' }) }));
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(new TextDecoder().decode(out.Payload)).errorMessage).toMatch(/no usable callback/);
  });
});

describe('the local function as a child process', () => {
  test('answers under GPU_FUNCTION_NAME, and killed mid-job it goes silent for good', async () => {
    const fn = await spawnLocalFunction({ MODELS_DIR: modelsDir, GPU_FUNCTION_NAME: 'easel-gpu-test' });
    try {
      const lambda = lambdaAt(fn.url);
      await expect(
        lambda.send(new InvokeCommand({ FunctionName: DEFAULT_FUNCTION_NAME, InvocationType: 'DryRun' })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);

      const request = job(150, 128);
      await lambda.send(new InvokeCommand({ FunctionName: 'easel-gpu-test', InvocationType: 'Event', Payload: payload(request) }));
      await receiver.waitFor('progress', request.jobId);
      fn.child.kill('SIGKILL');
      expect(await fn.exited).toEqual({ code: null, signal: 'SIGKILL' });

      const seen = typesOf(request.jobId).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const types = typesOf(request.jobId);
      expect(types).toHaveLength(seen);
      expect(types).not.toContain('completed');
      expect(types).not.toContain('failed');
      await expect(lambda.send(new InvokeCommand({ FunctionName: 'easel-gpu-test', Payload: payload(job(1)) }))).rejects.toThrow();
    } finally {
      fn.child.kill('SIGKILL');
    }
  });
});
