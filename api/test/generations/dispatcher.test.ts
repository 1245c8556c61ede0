import os from 'node:os';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalInvoke, type LocalInvokeServer } from '@easel/gpu-runtime/local-invoke';
import { GenerationJob } from '@easel/schema';
import { TokenService } from '../../src/accounts/token-service.js';
import { LoraCatalog } from '../../src/catalog/lora-catalog.js';
import { loadConfig } from '../../src/config.js';
import { CHARGE_TIMEOUT_MS } from '../../src/generations/create/charging.js';
import { createDispatcher, type Dispatcher } from '../../src/generations/dispatch/dispatcher.js';
import { GenerationModel, type GenerationDocument } from '../../src/generations/generation.js';
import { createGpuFunction } from '../../src/generations/dispatch/lambda.js';
import { finishGeneration } from '../../src/generations/events/lifecycle.js';
import { createEaselPubSub } from '../../src/generations/events/in-process.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';
import { chargedGeneration, chargingGeneration, expectTokensAccountedFor, ledgerOf, reload, settledStatus, type Holder } from '../support/generation-fixtures.js';
import type { PublishedGeneration } from '../../src/generations/events/publisher.js';
import { recordWebhookEvent } from '../../src/webhooks/webhook-deliveries.js';

useTestDatabase();

const logger = pino({ level: 'silent' });
const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
const services = { tokens, pubSub: createEaselPubSub(), logger, recordDeliveries: (generation: PublishedGeneration) => recordWebhookEvent(generation, 'http://easel.test') };
const CALLBACK_BASE = 'http://127.0.0.1:9';

/** The GPU function, reached through the real Lambda client: it only records the jobs it is given. */
let invoked: GenerationJob[] = [];
let lambda: LocalInvokeServer;
beforeAll(async () => {
  lambda = await startLocalInvoke({ functions: { 'easel-gpu': async (job) => void invoked.push(GenerationJob.parse(job)) }, maxConcurrency: 100 });
});
afterAll(() => lambda.close());

let dispatchers: Dispatcher[] = [];
beforeEach(async () => {
  await clearDatabase();
  invoked = [];
});
afterEach(async () => {
  await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()));
  dispatchers = [];
});

function startDispatcher(options: { concurrency: number; leaseMs?: number; functionName?: string }): Dispatcher {
  const config = loadConfig({ NODE_ENV: 'test', LAMBDA_ENDPOINT: lambda.url, GPU_FUNCTION_NAME: options.functionName });
  const dispatcher = createDispatcher({
    services,
    loras: new LoraCatalog(os.tmpdir()),
    gpu: createGpuFunction(config, logger),
    concurrency: options.concurrency,
    perUser: { FREE: 1, PLUS: 3 },
    leaseMs: options.leaseMs ?? 60_000,
  });
  dispatchers.push(dispatcher);
  dispatcher.start(CALLBACK_BASE);
  return dispatcher;
}

const user = (name: string, plan: Holder['plan'] = 'FREE'): Holder => ({ userId: `user-${name}`, plan });
const invokedIds = () => invoked.map((job) => job.jobId);
const statusesOf = async (ids: unknown[]) => Promise.all(ids.map(async (id) => (await reload(String(id))).status));

describe('the dispatcher', () => {
  it('sends the oldest jobs first, within the global limit, each claimed with its own secret and lease', async () => {
    const jobs: GenerationDocument[] = [];
    for (const name of ['ada', 'bob', 'cleo', 'dan']) jobs.push(await chargedGeneration(tokens, user(name)));
    const ids = jobs.map((job) => String(job._id));
    const dispatcher = startDispatcher({ concurrency: 2 });

    await expect.poll(invokedIds).toEqual(ids.slice(0, 2));
    expect(await statusesOf(ids)).toEqual(['RUNNING', 'RUNNING', 'QUEUED', 'QUEUED']);
    for (const job of invoked) {
      const stored = await reload(job.jobId);
      expect(job.attempt).toBe(1);
      expect(stored.attempt).toBe(1);
      expect(job.callback.url).toBe(`${CALLBACK_BASE}/callbacks/generations/${job.jobId}`);
      expect(job.callback.secret).toBe(stored.jobSecret);
      expect(Buffer.from(job.callback.secret, 'base64url').length).toBeGreaterThanOrEqual(32);
      expect(stored.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
      expect(stored.dispatchedAt).toBeInstanceOf(Date);
      expect(job.settings).toMatchObject({ prompt: 'a lighthouse at dusk', width: 64, steps: 4, seed: 1234 });
      expect(job.baseImageUrl).toBeUndefined();
    }
    expect(invoked[0].callback.secret).not.toBe(invoked[1].callback.secret);

    // A job ending frees its slot for the next in line.
    await finishGeneration(services, jobs[0]._id, { status: 'SUCCEEDED', images: [] }, { statuses: ['RUNNING'] });
    dispatcher.notify();
    await expect.poll(invokedIds).toEqual(ids.slice(0, 3));
  });

  it('does not let a user at their limit hold up the users behind them', async () => {
    const ada = [1, 2, 3].map(() => chargedGeneration(tokens, user('ada')));
    const adaJobs = [];
    for (const job of ada) adaJobs.push(await job);
    const bob = await chargedGeneration(tokens, user('bob'));
    const cleo1 = await chargedGeneration(tokens, user('cleo', 'PLUS'));
    const cleo2 = await chargedGeneration(tokens, user('cleo', 'PLUS'));
    startDispatcher({ concurrency: 4 });

    const expected = [adaJobs[0], bob, cleo1, cleo2].map((job) => String(job._id));
    await expect.poll(() => invokedIds().sort()).toEqual(expected.sort());
    expect(await statusesOf(adaJobs.map((job) => job._id))).toEqual(['RUNNING', 'QUEUED', 'QUEUED']);
  });

  it('dispatches nothing with a concurrency of 0', async () => {
    const job = await chargedGeneration(tokens, user('ada'));
    const dispatcher = startDispatcher({ concurrency: 0 });
    dispatcher.notify();
    await dispatcher.sweep();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(invoked).toEqual([]);
    expect((await reload(job._id)).status).toBe('QUEUED');
  });

  it('shares the limits with a second API instance and never lets both claim one job', async () => {
    const jobs: GenerationDocument[] = [];
    for (let i = 0; i < 9; i++) jobs.push(await chargedGeneration(tokens, user(`u${i}`)));
    const first = startDispatcher({ concurrency: 3 });
    const second = startDispatcher({ concurrency: 3 });

    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 10; i++) [first, second][i % 2].notify();
      await expect.poll(() => invoked.length).toBe(3 * round);
      expect(await GenerationModel.countDocuments({ status: 'RUNNING' })).toBe(3);
      for (const job of invoked.slice(-3)) await finishGeneration(services, job.jobId, { status: 'SUCCEEDED', images: [] }, { statuses: ['RUNNING'] });
    }
    // Every job went out exactly once, oldest first round by round.
    expect(invokedIds().sort()).toEqual(jobs.map((job) => String(job._id)).sort());
    expect(invoked.every((job) => job.attempt === 1)).toBe(true);
  });

  it('retries a job that stays silent past its lease once, then fails it with a refund', async () => {
    const ada = user('ada');
    const job = await chargedGeneration(tokens, ada);
    startDispatcher({ concurrency: 1, leaseMs: 150 });

    await expect.poll(() => settledStatus(job._id), { timeout: 5_000 }).toBe('FAILED');
    expect(invoked.map((sent) => sent.attempt)).toEqual([1, 2]);
    expect(invoked[0].callback.secret).not.toBe(invoked[1].callback.secret);
    const ended = await reload(job._id);
    expect(ended).toMatchObject({ errorCode: 'LEASE_EXPIRED', refunded: true, attempt: 2 });
    expect(ended.error).toMatch(/stopped reporting.*refunded/);
    expect((await ledgerOf(job._id)).map((entry) => entry.kind)).toEqual(['DEBIT', 'REFUND']);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('ends a silent job that the user asked to cancel as CANCELLED, without a retry', async () => {
    const ada = user('ada');
    const job = await chargedGeneration(tokens, ada);
    startDispatcher({ concurrency: 1, leaseMs: 300 });
    await expect.poll(() => invoked.length).toBe(1);
    await GenerationModel.updateOne({ _id: job._id }, { $set: { cancelRequested: true } });

    await expect.poll(() => settledStatus(job._id), { timeout: 5_000 }).toBe('CANCELLED');
    expect(invoked).toHaveLength(1);
    expect(await reload(job._id)).toMatchObject({ refunded: true, errorCode: 'CANCELLED' });
    await expectTokensAccountedFor(tokens, ada);
  });

  it('retries a job the function refuses to take once, then fails it with a refund', async () => {
    const ada = user('ada');
    const job = await chargedGeneration(tokens, ada);
    startDispatcher({ concurrency: 1, functionName: 'no-such-function' });

    await expect.poll(() => settledStatus(job._id), { timeout: 10_000 }).toBe('FAILED');
    expect(await reload(job._id)).toMatchObject({ errorCode: 'DISPATCH_FAILED', attempt: 2, refunded: true });
    await expectTokensAccountedFor(tokens, ada);
  });

  it('after a restart, sends what was queued and leaves running jobs to their leases', async () => {
    const running = await chargedGeneration(tokens, user('ada'), {
      status: 'RUNNING',
      attempt: 1,
      jobSecret: 's'.repeat(43),
      leaseExpiresAt: new Date(Date.now() + 60_000),
    });
    const queued = await chargedGeneration(tokens, user('bob'));
    startDispatcher({ concurrency: 2 });

    await expect.poll(invokedIds).toEqual([String(queued._id)]);
    expect(await reload(running._id)).toMatchObject({ status: 'RUNNING', attempt: 1, jobSecret: 's'.repeat(43) });
  });

  it('never sends a generation still being charged; its sweep sends the ones a crashed request had charged and drops the rest', async () => {
    const ada = user('ada');
    const stale = CHARGE_TIMEOUT_MS + 1_000;
    const charging = await chargingGeneration(ada);
    const charged = await chargingGeneration(ada, { ageMs: stale });
    await tokens.debit(ada, { generationId: String(charged._id), amount: 1, reason: 'before the crash' });
    const uncharged = await chargingGeneration(ada, { ageMs: stale });
    const dispatcher = startDispatcher({ concurrency: 3 });

    await dispatcher.sweep();
    await expect.poll(invokedIds).toEqual([String(charged._id)]);
    expect(await GenerationModel.exists({ _id: uncharged._id })).toBeNull();
    expect((await reload(charging._id)).status).toBe('CHARGING');
    expect((await tokens.balance(ada)).balance).toBe(19);
  });
});
