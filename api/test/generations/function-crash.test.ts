import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { GenerationModel } from '../../src/generations/generation.js';
import { expectTokensAccountedFor, reload, SETTLED } from '../support/generation-fixtures.js';
import { freePort, startFunctionProcess, startTcpProxy, type RunningProcess, type TcpProxy } from '../support/processes.js';
import { useTestServer } from '../support/server.js';
import { balanceOf, generate, type GenerationView } from './support.js';

/*
 * The GPU function as a process of its own, killed with SIGKILL in the middle of a job. The API
 * reaches it through a fixed address (a TCP proxy), so a replacement can take over at once.
 */

const TINY_MODELS = sharedTinyModelsDir();
const LONG_JOB = { width: 256, height: 256, steps: 150, batchSize: 4, prompt: 'a long exposure of a harbour at night' };

const functions: RunningProcess[] = [];
let proxy: TcpProxy;
const portOf = (process: RunningProcess) => Number(new URL(process.url).port);
const startFunction = async () => {
  const started = await startFunctionProcess({ MODELS_DIR: TINY_MODELS, LOCAL_FUNCTION_CONCURRENCY: '2' });
  functions.push(started);
  return started;
};

const env: Record<string, string> = { MODELS_DIR: TINY_MODELS, GPU_CONCURRENCY: '2', JOB_LEASE_SECONDS: '1' };
beforeAll(async () => {
  await makeTinyModels(TINY_MODELS);
  proxy = await startTcpProxy(portOf(await startFunction()));
  env.LAMBDA_ENDPOINT = proxy.url; // read by the test server's beforeAll, which runs after this one
});
afterAll(async () => {
  await Promise.all(functions.map((fn) => fn.kill()));
  await proxy?.close();
});
const server = useTestServer(env);

async function queue(key: string, input: Record<string, unknown>): Promise<GenerationView> {
  const response = await generate(server(), key, { modelId: 'tiny-sd15', enhancePrompt: false, ...input });
  expect(response.errors).toBeUndefined();
  return response.data!.generateImage;
}

/** Resolves once the function has reported a denoising step of one of these jobs: it is mid-job. */
const midJob = (ids: string[]) =>
  expect.poll(async () => (await GenerationModel.find({ _id: { $in: ids }, step: { $gt: 0 } }).lean()).length, { interval: 5, timeout: 10_000 }).toBeGreaterThan(0);

const allEnded = (ids: string[]) =>
  expect
    .poll(async () => (await GenerationModel.find({ _id: { $in: ids }, ...SETTLED }).lean()).length, { timeout: 20_000 })
    .toBe(ids.length);

describe('the GPU function killed mid-job', () => {
  it('retries the job once on the function that takes over, and it completes; no token lost', async () => {
    const replacement = await startFunction(); // warm capacity, as the platform would have
    const { user, key } = await server().createUser('kim', { plan: 'PLUS' });
    const job = await queue(key, LONG_JOB);
    await midJob([job.id]);

    proxy.retarget(portOf(replacement));
    await functions[0].kill();
    await allEnded([job.id]);

    const ended = await reload(job.id);
    expect(ended).toMatchObject({ status: 'SUCCEEDED', attempt: 2, refunded: false });
    expect(ended.images).toHaveLength(4);
    expect(await balanceOf(server(), key)).toBe(200 - 4);
    await expectTokensAccountedFor(server().server.services.tokens, { userId: user.id, plan: 'PLUS' });
  });

  it('with no function left, fails the jobs in flight and in the queue after their retry, and refunds each once', async () => {
    const { user, key } = await server().createUser('lee', { plan: 'PLUS' });
    const jobs = [await queue(key, LONG_JOB), await queue(key, LONG_JOB), await queue(key, { ...LONG_JOB, steps: 4 })];
    const ids = jobs.map((job) => job.id);
    await midJob(ids);

    proxy.retarget(await freePort()); // nothing listens there
    await Promise.all(functions.map((fn) => fn.kill()));
    await allEnded(ids);

    for (const id of ids) {
      const ended = await reload(id);
      expect(ended).toMatchObject({ status: 'FAILED', refunded: true, attempt: 2 });
      expect(['LEASE_EXPIRED', 'DISPATCH_FAILED']).toContain(ended.errorCode);
    }
    expect(await balanceOf(server(), key)).toBe(200);
    await expectTokensAccountedFor(server().server.services.tokens, { userId: user.id, plan: 'PLUS' });
  });
});
