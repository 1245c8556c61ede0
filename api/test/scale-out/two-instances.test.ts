import { createClient } from 'graphql-ws';
import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { Accounts } from '../../src/accounts/accounts.js';
import { TokenService } from '../../src/accounts/token-service.js';
import { startJongodb, type EmbeddedServer } from '../../src/db/jongodb.js';
import { GenerationModel } from '../../src/generations/generation.js';
import { follow, wsClient } from '../generations/subscriptions-client.js';
import { expectTokensAccountedFor, settledStatus } from '../support/generation-fixtures.js';
import { freePort, startApiProcess, startFunctionProcess, type RunningProcess } from '../support/processes.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

/*
 * Two API instances (processes) on one database (a standalone jongodb) and one Redis, with the GPU
 * function in a third process: what a subscriber on A sees of work submitted to or finished by B.
 */

const TINY_MODELS = sharedTinyModelsDir();

interface Update {
  id: string;
  status: string;
  step: number;
  totalSteps: number;
  previewUrl: string | null;
  images: { id: string }[];
}
const FIELDS = 'id status step totalSteps previewUrl images { id }';

let redis: RedisProcess;
let database: EmbeddedServer;
let gpu: RunningProcess;
let a: RunningProcess;
let b: RunningProcess | undefined;

beforeAll(async () => {
  await makeTinyModels(TINY_MODELS);
  [redis, database] = await Promise.all([startRedis(), startJongodb(pino({ level: 'silent' }))]);
  const uri = database.uri.replace(/\/[^/]*$/, '/easel_scale_out');
  await mongoose.connect(uri, { autoCreate: false, autoIndex: false });
  gpu = await startFunctionProcess({ MODELS_DIR: TINY_MODELS, LOCAL_FUNCTION_CONCURRENCY: '2' });
  const env = {
    HOST: '127.0.0.1',
    MONGODB_URI: uri,
    MODELS_DIR: TINY_MODELS,
    LAMBDA_ENDPOINT: gpu.url,
    GPU_CONCURRENCY: '2',
    JOB_LEASE_SECONDS: '2',
    REDIS_URL: redis.url,
    IMAGE_LINK_KEY: 'a shared key of at least thirty-two characters',
    // Small enough to cross in a test; the counters live in Redis, shared by both instances.
    RATE_LIMIT_ANALYZE: '4',
  };
  // One after the other: both would otherwise seed the starter catalog at once.
  a = await startApiProcess({ ...env, PORT: String(await freePort()) });
  b = await startApiProcess({ ...env, PORT: String(await freePort()) });
}, 90_000);

afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill(), gpu?.kill()]);
  await mongoose.disconnect();
  await Promise.all([database?.stop(), redis?.stop()]);
});

async function generateImage(instance: RunningProcess, key: string, input: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${instance.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: 'mutation ($input: GenerateImageInput!) { generateImage(input: $input) { id status } }',
      variables: { input: { modelId: 'tiny-sd15', enhancePrompt: false, width: 256, height: 256, prompt: 'a lighthouse in fog', ...input } },
    }),
  });
  const result = (await response.json()) as { data?: { generateImage: { id: string } }; errors?: unknown };
  expect(result.errors).toBeUndefined();
  return result.data!.generateImage.id;
}

async function graphql(instance: RunningProcess, key: string, query: string): Promise<Record<string, any>> {
  const response = await fetch(`${instance.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  const result = (await response.json()) as { data?: Record<string, any>; errors?: unknown };
  expect(result.errors).toBeUndefined();
  return result.data!;
}

const healthOf = async (instance: RunningProcess) => {
  const response = await fetch(`${instance.url}/healthz`);
  return { status: response.status, body: (await response.json()) as { events: { kind: string; connected: boolean } } };
};

// A loaded machine runs the tiny model slowly; these wait on real jobs.
describe('two API instances on one Redis event bus', { timeout: 90_000 }, () => {
  it('lets a subscriber on A follow a generation submitted on B, from QUEUED to SUCCEEDED, every step in order, with previews', async () => {
    const { key } = await new Accounts().createUser({ name: 'ada', plan: 'PLUS' });
    const clients = [wsClient(a.url, key), wsClient(b!.url, key)];
    try {
      // The function sends each step, replacing a step not yet sent by a newer one: a subscriber on
      // B (where the callbacks arrive) sees every step stored; the one on A must see the same.
      const [onA, onB] = clients.map((client) => follow<Update>(client, `subscription { myGenerations { ${FIELDS} } }`, {}, 'myGenerations'));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the subscriptions reach Redis
      const id = await generateImage(b!, key, { steps: 12 });
      const ends = [onA, onB].map((feed) => feed.until((update) => update.id === id && update.status === 'SUCCEEDED'));
      const [last] = await Promise.all(ends);
      const seen = (updates: Update[]) => updates.filter((update) => update.id === id).map(({ status, step }) => `${status}:${step}`);
      expect(seen(onA.updates)).toEqual(seen(onB.updates));
      const updates = onA.updates.filter((update) => update.id === id);
      expect(updates[0].status).toBe('QUEUED');
      const steps = updates.filter((update) => update.status === 'RUNNING' && update.step > 0).map((update) => update.step);
      expect(steps.length).toBeGreaterThan(1);
      expect(steps.every((step, i) => i === 0 || step > steps[i - 1])).toBe(true);
      expect(steps.at(-1)).toBe(12);
      expect(updates.some((update) => update.previewUrl?.startsWith('data:image/webp;base64,'))).toBe(true);
      expect(last.images).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it("closes a key's socket on A with 4401 when the key is revoked on B, and leaves the user's other key streaming", async () => {
    const { key } = await new Accounts().createUser({ name: 'katherine', plan: 'PLUS' });
    const spare = (await graphql(b!, key, 'mutation { createApiKey(label: "leaked") { key apiKey { id } } }')).createApiKey;
    const sockets = [spare.key, key].map((socketKey: string) => {
      let closed!: (event: { code: number; reason: string }) => void;
      let connected!: () => void;
      const client = createClient({
        url: `${a.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${socketKey}` },
        retryAttempts: 0,
        on: { connected: () => connected(), closed: (event) => closed(event as { code: number; reason: string }) },
      });
      const feed = follow<Update>(client, `subscription { myGenerations { ${FIELDS} } }`, {}, 'myGenerations');
      return { client, feed, closed: new Promise<{ code: number; reason: string }>((resolve) => (closed = resolve)), connected: new Promise<void>((resolve) => (connected = resolve)) };
    });
    const [leaked, kept] = sockets;
    // Handled from the start: the subscription fails the moment its socket is closed.
    const leakedEnd = leaked.feed.done.then(() => 'completed', (error: Error) => error.message);
    try {
      await Promise.all(sockets.map((socket) => socket.connected));
      await graphql(b!, key, `mutation { revokeApiKey(id: "${spare.apiKey.id}") { revokedAt } }`);
      // The revocation happened on B; A hears of it on the bus and closes the socket it holds.
      expect(await leaked.closed).toEqual(expect.objectContaining({ code: 4401, reason: 'API key revoked' }));
      expect(await leakedEnd).toMatch(/4401/);
      const id = await generateImage(b!, key, { steps: 2 });
      await kept.feed.until((update) => update.id === id && update.status === 'SUCCEEDED');
      expect(leaked.feed.updates.some((update) => update.id === id)).toBe(false);
    } finally {
      await Promise.all(sockets.map((socket) => socket.client.dispose()));
    }
  });

  it("counts a user's requests on both instances against one budget (the limits' counters in Redis)", async () => {
    const { key } = await new Accounts().createUser({ name: 'hedy', plan: 'PLUS' });
    const analyze = async (instance: RunningProcess) => {
      const response = await fetch(`${instance.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ analyzePrompt(modelId: "tiny-sd15", prompt: "a cat") { prompt { tokenCount } } }' }),
      });
      const result = (await response.json()) as { errors?: { extensions: { code: string } }[] };
      return result.errors?.[0].extensions.code ?? 'OK';
    };
    const answers = [];
    for (const instance of [a, b!, a, b!, a, b!]) answers.push(await analyze(instance));
    expect(answers).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('when Redis stops mid-stream: the subscriber gets an error, /healthz says 503, the job still ends; when it is back, subscribing works again', async () => {
    const { key } = await new Accounts().createUser({ name: 'grace', plan: 'PLUS' });
    const id = await generateImage(b!, key, { steps: 60 });
    const client = wsClient(a.url, key);
    try {
      const feed = follow<Update>(client, `subscription ($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`, { id }, 'generationUpdated');
      await feed.until((update) => update.step > 0);

      await redis.stop();
      await expect(feed.done).rejects.toThrow(/event bus \(Redis\) cannot be reached/);
      for (const instance of [a, b!]) {
        const health = await healthOf(instance);
        expect(health.status).toBe(503);
        expect(health.body.events).toEqual({ kind: 'redis', connected: false });
      }
      const refused = follow<Update>(client, `subscription ($id: ID!) { generationUpdated(id: $id) { id } }`, { id }, 'generationUpdated');
      await expect(refused.done).rejects.toThrow(/EVENTS_UNAVAILABLE|cannot be reached/);
      // The callbacks are answered without Redis: the job ends all the same.
      await expect.poll(() => settledStatus(id), { timeout: 60_000 }).toBe('SUCCEEDED');

      await redis.restart();
      await expect.poll(async () => (await healthOf(a)).status, { timeout: 15_000 }).toBe(200);
      const again = follow<Update>(client, `subscription ($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`, { id }, 'generationUpdated');
      await again.done;
      expect(again.updates.map((update) => update.status)).toEqual(['SUCCEEDED']);
    } finally {
      await client.dispose();
    }
  });

  it('when B is killed mid-job, the job still ends through A (lease retry), A\'s subscriber sees the end, and nothing is charged twice', async () => {
    const { user, key } = await new Accounts().createUser({ name: 'linus', plan: 'PLUS' });
    const client = wsClient(a.url, key);
    try {
      const id = await generateImage(b!, key, { steps: 150 });
      const feed = follow<Update>(client, `subscription ($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`, { id }, 'generationUpdated');
      await feed.until((update) => update.step > 0);
      await b!.kill();
      b = undefined;
      const last = await feed.until((update) => ['SUCCEEDED', 'FAILED'].includes(update.status));
      await feed.done;
      const stored = await GenerationModel.findById(id).lean();
      expect(last.status).toBe(stored!.status);
      const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
      const holder = { userId: user.id, plan: 'PLUS' as const };
      await expect.poll(() => settledStatus(id), { timeout: 30_000 }).toBe(last.status);
      expect((await tokens.balance(holder)).balance).toBe(last.status === 'SUCCEEDED' ? 199 : 200);
      await expectTokensAccountedFor(tokens, holder);
    } finally {
      await client.dispose();
    }
  });
});
