import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { SecretBox } from '../../src/webhooks/secret-box.js';
import { WebhookSecretModel } from '../../src/webhooks/webhook-secrets.js';
import { webhookSignature } from '../../src/webhooks/webhook-signing.js';
import { checkWebhookUrl, webhookAgent } from '../../src/webhooks/webhook-url.js';
import { generate } from '../generations/support.js';
import { codes, useTestServer } from '../support/server.js';

/*
 * Webhooks end to end: real generations on the tiny models, real local HTTP receivers. Retries
 * are made short here (WEBHOOK_RETRY_SECONDS=0.2,0.2: three attempts, WEBHOOK_TIMEOUT_SECONDS=0.5).
 */

const TINY_MODELS = sharedTinyModelsDir();
beforeAll(() => makeTinyModels(TINY_MODELS));
const SECRETS_KEY = 'k'.repeat(40);
const RETIRED_KEY = 'r'.repeat(40);
const server = useTestServer({
  MODELS_DIR: TINY_MODELS,
  GPU_CONCURRENCY: '2',
  WEBHOOK_RETRY_SECONDS: '0.2,0.2',
  WEBHOOK_TIMEOUT_SECONDS: '0.5',
  WEBHOOK_SECRETS_KEY: SECRETS_KEY,
  WEBHOOK_SECRETS_PREVIOUS_KEYS: RETIRED_KEY,
});

interface Received {
  id: string;
  timestamp: number;
  signature: string;
  body: string;
  type: string;
}

/** A receiver that records every request and answers as `answer` says (undefined: never). */
async function receiver(answer: (request: Received, nth: number) => number | undefined): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const http: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const request = {
      id: String(req.headers['webhook-id']),
      timestamp: Number(req.headers['webhook-timestamp']),
      signature: String(req.headers['webhook-signature']),
      body,
      type: (JSON.parse(body) as { type: string }).type,
    };
    received.push(request);
    const status = answer(request, received.length);
    if (status === undefined) hanging.push(res);
    else res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`,
    received,
    close: async () => {
      for (const res of hanging) res.destroy();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

const DELIVERIES = `{ webhookDeliveries(limit: 50) { id generationId event status attempts lastStatusCode lastError } }`;
type Delivery = { id: string; generationId: string; event: string; status: string; attempts: number; lastStatusCode: number | null; lastError: string | null };

async function submit(key: string, webhook: Record<string, unknown>, steps = 6): Promise<string> {
  const response = await generate(server(), key, { modelId: 'tiny-sd15', enhancePrompt: false, width: 128, height: 128, steps, prompt: 'a kite', webhook });
  expect(response.errors).toBeUndefined();
  return response.data!.generateImage.id;
}

async function deliveriesOf(key: string, generationId: string): Promise<Delivery[]> {
  const response = await server().graphql<{ webhookDeliveries: Delivery[] }>(DELIVERIES, { key });
  return response.data!.webhookDeliveries.filter((delivery) => delivery.generationId === generationId).reverse();
}

const settled = (deliveries: Delivery[]) => deliveries.length > 0 && deliveries.every((delivery) => delivery.status !== 'PENDING');

describe('webhooks', { timeout: 60_000 }, () => {
  const receivers: { close(): Promise<void> }[] = [];
  afterAll(() => Promise.all(receivers.map((r) => r.close())));

  it('posts signed events in order, started to completed, each once, with the idempotency id of its delivery', async () => {
    const { key } = await server().createUser('wanda');
    const secret = (await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key })).data!.webhookSecret;
    expect(secret).toMatch(/^whsec_/);
    const hook = await receiver(() => 204);
    receivers.push(hook);
    const id = await submit(key, { url: hook.url });

    // One read of the log: two could see everything settled, then a completed delivery still in flight.
    const ended = (deliveries: Delivery[]) => settled(deliveries) && deliveries.some((d) => d.event === 'completed');
    await expect.poll(async () => ended(await deliveriesOf(key, id)), { timeout: 30_000 }).toBe(true);
    const types = hook.received.map((request) => request.type);
    expect(types[0]).toBe('generation.started');
    expect(types.at(-1)).toBe('generation.completed');
    expect(types.slice(1, -1).every((type) => type === 'generation.progress')).toBe(true);
    expect(new Set(hook.received.map((request) => request.id)).size).toBe(hook.received.length);
    const steps = hook.received.slice(1, -1).map((request) => (JSON.parse(request.body) as { data: { step: number } }).data.step);
    expect(steps).toEqual([...steps].sort((x, y) => x - y));
    for (const request of hook.received) {
      // Standard Webhooks: v1,base64(HMAC-SHA256(secret bytes, id.timestamp.body)).
      expect(request.signature).toBe(webhookSignature(secret, request.id, request.timestamp, request.body));
      expect(Math.abs(request.timestamp - Date.now() / 1000)).toBeLessThan(60);
    }
    const completed = JSON.parse(hook.received.at(-1)!.body) as { data: { id: string; status: string; images: { url: string }[] } };
    expect(completed.data).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(completed.data.images).toHaveLength(1);
    const log = await deliveriesOf(key, id);
    expect(log.map((delivery) => delivery.id)).toEqual(hook.received.map((request) => request.id));
    expect(log.every((delivery) => delivery.status === 'DELIVERED' && delivery.attempts === 1 && delivery.lastStatusCode === 204)).toBe(true);
  });

  it('stores each event where its state is stored: with every publish on the event bus lost, the receiver still gets them all', async () => {
    const { key } = await server().createUser('olga');
    const hook = await receiver(() => 200);
    receivers.push(hook);
    // What a crash right after a stored state, or a Redis outage, does to its announcement.
    const bus = server().server.services.pubSub;
    const publish = bus.publish;
    bus.publish = () => {};
    try {
      const id = await submit(key, { url: hook.url });
      await expect.poll(async () => (await deliveriesOf(key, id)).some((d) => d.event === 'completed' && d.status === 'DELIVERED'), { timeout: 30_000 }).toBe(true);
    } finally {
      bus.publish = publish;
    }
    const types = hook.received.map((request) => request.type);
    expect(types[0]).toBe('generation.started');
    expect(types.at(-1)).toBe('generation.completed');
    const steps = hook.received.slice(1, -1).map((request) => (JSON.parse(request.body) as { data: { step: number } }).data.step);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((step, i) => i === 0 || step > steps[i - 1])).toBe(true);
    expect(steps.at(-1)).toBe(6);
  });

  it('retries a receiver that fails twice, in order, so that it gets every event it asked for once', async () => {
    const { key } = await server().createUser('rhea');
    const hook = await receiver((_request, nth) => (nth <= 2 ? 500 : 200));
    receivers.push(hook);
    const id = await submit(key, { url: hook.url, events: ['started', 'completed'] });

    await expect.poll(async () => (await deliveriesOf(key, id)).filter((d) => d.status === 'DELIVERED').length, { timeout: 30_000 }).toBe(2);
    const answered = hook.received.slice(2);
    expect(answered.map((request) => request.type)).toEqual(['generation.started', 'generation.completed']);
    expect(hook.received.slice(0, 2).map((request) => request.id)).toEqual([answered[0].id, answered[0].id]);
    const log = await deliveriesOf(key, id);
    expect(log.map(({ event, status, attempts }) => ({ event, status, attempts }))).toEqual([
      { event: 'started', status: 'DELIVERED', attempts: 3 },
      { event: 'completed', status: 'DELIVERED', attempts: 1 },
    ]);
  });

  it('gives up on a receiver that never answers after three attempts, and the delivery log says so', async () => {
    const { key } = await server().createUser('nemo');
    const hook = await receiver(() => undefined);
    receivers.push(hook);
    const id = await submit(key, { url: hook.url, events: ['completed'] });

    await expect.poll(async () => settled(await deliveriesOf(key, id)), { timeout: 30_000 }).toBe(true);
    const [delivery] = await deliveriesOf(key, id);
    expect(delivery).toMatchObject({ event: 'completed', status: 'FAILED', attempts: 3, lastError: 'no answer within 500 ms' });
    expect(hook.received.map((request) => request.id)).toEqual([delivery.id, delivery.id, delivery.id]);
  });

  it('rotates the secret: the new one is returned and signs from then on', async () => {
    const { key } = await server().createUser('otto');
    const first = (await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key })).data!.webhookSecret;
    const rotated = (await server().graphql<{ rotateWebhookSecret: string }>('mutation { rotateWebhookSecret }', { key })).data!.rotateWebhookSecret;
    expect(rotated).not.toBe(first);
    expect((await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key })).data!.webhookSecret).toBe(rotated);
  });

  it('keeps secrets sealed in the database with WEBHOOK_SECRETS_KEY; seals one stored before the key was set, or with a retired key, when read', async () => {
    const { user, key } = await server().createUser('sealed');
    const secret = (await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key })).data!.webhookSecret;
    const stored = (await WebhookSecretModel.findOne({ userId: user.id }).lean())!.secret;
    expect(stored).toMatch(/^sealed:v1:/);
    expect(stored).not.toContain(secret.slice('whsec_'.length));
    expect(new SecretBox(SECRETS_KEY).open(stored)).toEqual({ secret, sealedWithPreviousKey: false });

    const { user: older, key: olderKey } = await server().createUser('unsealed');
    await WebhookSecretModel.create({ userId: older.id, secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64') });
    expect((await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key: olderKey })).data!.webhookSecret).toBe('whsec_' + Buffer.alloc(32, 7).toString('base64'));
    expect((await WebhookSecretModel.findOne({ userId: older.id }).lean())!.secret).toMatch(/^sealed:v1:/);

    // Sealed with a key being retired: read, and sealed again with the current one.
    const { key: retiredKey, user: retired } = await server().createUser('retired-key');
    await WebhookSecretModel.create({ userId: retired.id, secret: new SecretBox(RETIRED_KEY).seal('whsec_from_before') });
    expect((await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key: retiredKey })).data!.webhookSecret).toBe('whsec_from_before');
    const resealed = (await WebhookSecretModel.findOne({ userId: retired.id }).lean())!.secret;
    expect(new SecretBox(SECRETS_KEY).open(resealed)).toEqual({ secret: 'whsec_from_before', sealedWithPreviousKey: false });

    // Sealed under a key since replaced: reading it says so, and rotating replaces it without reading it.
    const { key: movedKey, user: moved } = await server().createUser('rekeyed');
    await WebhookSecretModel.create({ userId: moved.id, secret: new SecretBox('another key, at least thirty-two characters').seal('whsec_old') });
    const unreadable = await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key: movedKey });
    expect(unreadable.errors).toBeDefined();
    const rotated = (await server().graphql<{ rotateWebhookSecret: string }>('mutation { rotateWebhookSecret }', { key: movedKey })).data!.rotateWebhookSecret;
    expect((await server().graphql<{ webhookSecret: string }>('{ webhookSecret }', { key: movedKey })).data!.webhookSecret).toBe(rotated);
  });

  it('refuses a webhook URL that is not http(s), charging nothing', async () => {
    const { key } = await server().createUser('ivy');
    const response = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x', webhook: { url: 'ftp://example.com/hook' } });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('checkWebhookUrl in production (SSRF)', () => {
  it.each(['http://127.0.0.1/hook', 'http://10.1.2.3/', 'http://169.254.169.254/latest/meta-data', 'http://192.168.0.10/', 'http://[::1]/', 'http://[fe80::1]/', 'http://[::ffff:127.0.0.1]/', 'http://localhost:8080/'])(
    'refuses %s',
    async (url) => {
      await expect(checkWebhookUrl(url, true)).rejects.toThrow(/loopback, private or link-local|does not resolve/);
    },
  );

  it('accepts a public address, and anything http(s) outside production', async () => {
    await expect(checkWebhookUrl('https://93.184.216.34/hook', true)).resolves.toBeInstanceOf(URL);
    await expect(checkWebhookUrl('http://127.0.0.1/hook', false)).resolves.toBeInstanceOf(URL);
  });

  it('checks the address a delivery connects to as well, so a name that resolves elsewhere by then reaches nothing private', async () => {
    const local = await receiver(() => 200);
    const byName = local.url.replace('127.0.0.1', 'localhost'); // a name, resolved when the socket connects
    const [guarded, open] = [webhookAgent(true), webhookAgent(false)];
    try {
      const refused = await fetch(byName, { method: 'POST', body: '{}', dispatcher: guarded }).catch((error: Error) => error);
      expect(refused).toBeInstanceOf(Error);
      expect(((refused as Error).cause as Error & { code: string }).code).toBe('EWEBHOOKPRIVATE');
      expect(((refused as Error).cause as Error).message).toMatch(/^webhook: "localhost" resolved to (127\.0\.0\.1|::1), a loopback, private or link-local address/);
      expect(local.received).toHaveLength(0);
      // The same request outside production gets through.
      expect((await fetch(byName, { method: 'POST', body: '{}', dispatcher: open })).status).toBe(200);
      expect(local.received).toHaveLength(1);
    } finally {
      await Promise.all([guarded.close(), open.close(), local.close()]);
    }
  });
});
