import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { Accounts } from '../../src/accounts/accounts.js';
import { TokenService } from '../../src/accounts/token-service.js';
import { startJongodb, type EmbeddedServer } from '../../src/db/jongodb.js';
import { GenerationModel, type GenerationDocument } from '../../src/generations/generation.js';
import { expectTokensAccountedFor, SETTLED } from '../support/generation-fixtures.js';
import { freePort, startApiProcess, startFunctionProcess, type RunningProcess } from '../support/processes.js';

/*
 * The API as a process of its own, killed with SIGKILL while jobs run and wait, then started
 * again on the same port and database. The GPU function (another process) carries on meanwhile,
 * retrying its callbacks. Every job must end, and every token be spent on an image or refunded.
 */

const TINY_MODELS = sharedTinyModelsDir();
const LONG_JOB = { width: 256, height: 256, steps: 150, batchSize: 2, prompt: 'a long exposure of a harbour at night' };

let database: EmbeddedServer;
let gpu: RunningProcess;
let api: RunningProcess | undefined;
let apiEnv: Record<string, string>;

beforeAll(async () => {
  await makeTinyModels(TINY_MODELS);
  database = await startJongodb(pino({ level: 'silent' }));
  const uri = database.uri.replace(/\/[^/]*$/, '/easel_restart');
  await mongoose.connect(uri, { autoCreate: false, autoIndex: false });
  gpu = await startFunctionProcess({ MODELS_DIR: TINY_MODELS, LOCAL_FUNCTION_CONCURRENCY: '2' });
  apiEnv = {
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    MONGODB_URI: uri,
    MODELS_DIR: TINY_MODELS,
    LAMBDA_ENDPOINT: gpu.url,
    GPU_CONCURRENCY: '2',
    JOB_LEASE_SECONDS: '2',
  };
  api = await startApiProcess(apiEnv);
}, 60_000);

afterAll(async () => {
  await api?.kill();
  await gpu?.kill();
  await mongoose.disconnect();
  await database?.stop();
});

async function generateImage(key: string, input: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${api!.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: 'mutation ($input: GenerateImageInput!) { generateImage(input: $input) { id status } }',
      variables: { input: { modelId: 'tiny-sd15', enhancePrompt: false, ...input } },
    }),
  });
  const result = (await response.json()) as { data?: { generateImage: { id: string } }; errors?: unknown };
  expect(result.errors).toBeUndefined();
  return result.data!.generateImage.id;
}

describe('the API killed mid-job and started again', () => {
  it('resumes: every job ends, the finished ones with their images, and every token is accounted for', async () => {
    const { user, key } = await new Accounts().createUser({ name: 'rita', plan: 'PLUS' });
    const ids: string[] = [];
    for (const input of [LONG_JOB, LONG_JOB, LONG_JOB, { ...LONG_JOB, steps: 4 }]) ids.push(await generateImage(key, input));
    // Two run (GPU_CONCURRENCY), two wait; kill once the function is reporting steps.
    await expect.poll(() => GenerationModel.countDocuments({ _id: { $in: ids }, step: { $gt: 0 } }), { interval: 5, timeout: 10_000 }).toBeGreaterThan(0);
    expect(await GenerationModel.countDocuments({ _id: { $in: ids }, status: 'QUEUED' })).toBeGreaterThan(0);

    await api!.kill();
    api = await startApiProcess(apiEnv);

    await expect
      .poll(() => GenerationModel.countDocuments({ _id: { $in: ids }, ...SETTLED }), { timeout: 40_000 })
      .toBe(ids.length);
    const ended = await GenerationModel.find({ _id: { $in: ids } }).lean<GenerationDocument[]>();
    const files = mongoose.connection.db!.collection('images.files');
    let imagesMade = 0;
    for (const job of ended) {
      expect(['SUCCEEDED', 'FAILED']).toContain(job.status);
      if (job.status !== 'SUCCEEDED') continue;
      expect(job.images).toHaveLength(job.settings.batchSize);
      expect(await files.countDocuments({ _id: { $in: job.images.map((image) => image.fileId) } })).toBe(job.settings.batchSize);
      imagesMade += job.settings.batchSize;
    }
    const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
    const holder = { userId: user.id, plan: 'PLUS' as const };
    expect((await tokens.balance(holder)).balance).toBe(200 - imagesMade);
    await expectTokensAccountedFor(tokens, holder);
  });
});
