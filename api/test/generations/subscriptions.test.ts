import sharp from 'sharp';
import { createClient, type Client } from 'graphql-ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GenerationModel, type GenerationDocument } from '../../src/generations/generation.js';
import { followGeneration } from '../../src/generations/events/generation-feed.js';
import { finishGeneration } from '../../src/generations/events/lifecycle.js';
import { ALL_GENERATIONS_TOPIC, GENERATION_TOPIC, publishGeneration, USER_GENERATIONS_TOPIC } from '../../src/generations/events/publisher.js';
import { useTestServer } from '../support/server.js';
import { follow } from './subscriptions-client.js';
import { generate, installModel, type GenerationView } from './support.js';

const server = useTestServer({ GPU_CONCURRENCY: '0' });

beforeAll(() => installModel(server(), 'tiny-sd15'));

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

function connect(key?: string): Client {
  const client = createClient({
    url: `${server().url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { Authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

const FIELDS = 'id status queuePosition step totalSteps etaSeconds previewUrl cancelRequested images { url seed } error errorCode';

/** A subscription's results as they come, readable one by one. */
function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: { data?: Record<string, GenerationView> | null; errors?: { extensions?: { code?: string } }[] }[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  const wake = () => waiters.splice(0).forEach((resolve) => resolve());
  const finished = new Promise<unknown>((resolve) => {
    client.subscribe({ query, variables }, {
      next: (result) => {
        results.push(result as (typeof results)[number]);
        wake();
      },
      error: (error) => {
        ended = true;
        wake();
        resolve(error);
      },
      complete: () => {
        ended = true;
        wake();
        resolve(undefined);
      },
    });
  });
  return {
    results,
    finished,
    /** Waits until `count` results have come (or the subscription ended). */
    async received(count: number) {
      while (results.length < count && !ended) await new Promise<void>((resolve) => waiters.push(resolve));
      return results.slice(0, count);
    },
  };
}

const updated = (id: string) => `subscription { generationUpdated(id: "${id}") { ${FIELDS} } }`;

/** What the dispatcher and the callback endpoint store and publish, step by step. */
async function change(id: string, update: Record<string, unknown>): Promise<GenerationDocument> {
  const generation = await GenerationModel.findOneAndUpdate({ _id: id }, update, { returnDocument: 'after' }).lean<GenerationDocument>();
  publishGeneration(server().server.services.pubSub, generation!);
  return generation!;
}
const claim = (id: string) =>
  change(id, { $set: { status: 'RUNNING', jobSecret: 'secret-'.repeat(8), lastSequence: -1, dispatchedAt: new Date() }, $inc: { attempt: 1 } });
const progress = (id: string, sequence: number, step: number, preview?: Buffer) =>
  change(id, { $set: { lastSequence: sequence, step, totalSteps: 8, etaSeconds: 8 - step, ...(preview ? { preview } : {}) } });

describe('generationUpdated', () => {
  it('starts with the current state, then gives every change in order, and ends after the final status', async () => {
    const { key } = await server().createUser('watcher');
    const { id } = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const subscription = subscribe(connect(key), updated(id));

    const [start] = await subscription.received(1);
    expect(start.data!.generationUpdated).toMatchObject({ id, status: 'QUEUED', step: 0, previewUrl: null });
    expect(start.data!.generationUpdated.queuePosition).toBeGreaterThanOrEqual(1);

    await claim(id);
    await progress(id, 0, 0);
    const preview = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#08f' } }).webp().toBuffer();
    for (let step = 1; step <= 8; step++) await progress(id, step, step, preview);
    await finishGeneration(server().server.services.lifecycle, id, { status: 'SUCCEEDED', images: [] }, { statuses: ['RUNNING'] });
    expect(await subscription.finished).toBeUndefined();

    const updates = subscription.results.map((result) => result.data!.generationUpdated);
    expect(updates.map((update) => [update.status, update.step])).toEqual([
      ['QUEUED', 0],
      ['RUNNING', 0],
      ...Array.from({ length: 9 }, (_, step) => ['RUNNING', step]),
      ['SUCCEEDED', 8],
    ]);
    expect(updates[1].queuePosition).toBeNull();
    expect(updates[3].previewUrl).toBe(`data:image/webp;base64,${preview.toString('base64')}`);
    expect(updates[3].etaSeconds).toBe(7);
  });

  it('gives a late subscriber the final state at once, and ends', async () => {
    const { key } = await server().createUser('latecomer');
    const { id } = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    await server().graphql(`mutation { cancelGeneration(id: "${id}") { id } }`, { key });

    const subscription = subscribe(connect(key), updated(id));
    expect(await subscription.finished).toBeUndefined();
    expect(subscription.results.map((result) => result.data!.generationUpdated)).toEqual([
      expect.objectContaining({ id, status: 'CANCELLED', errorCode: 'CANCELLED', queuePosition: null }),
    ]);
  });

  it('skips updates that arrive after a later one', async () => {
    const { key } = await server().createUser('orderly');
    const { id } = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    await claim(id);
    const subscription = subscribe(connect(key), updated(id));
    await subscription.received(1);

    const early = await progress(id, 0, 1);
    const late = await progress(id, 1, 2);
    const { pubSub } = server().server.services;
    // Two callbacks' publishes crossing: the older state comes last, and again.
    publishGeneration(pubSub, early);
    publishGeneration(pubSub, late);
    publishGeneration(pubSub, early);
    await progress(id, 2, 3);
    const results = await subscription.received(4);
    expect(results.map((result) => result.data!.generationUpdated.step)).toEqual([0, 1, 2, 3]);
  });

  it('gives the new queue position when a job ahead leaves the queue', async () => {
    const ahead = await server().createUser('ahead');
    const behind = await server().createUser('behind');
    const first = (await generate(server(), ahead.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const second = (await generate(server(), ahead.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const mine = (await generate(server(), behind.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const subscription = subscribe(connect(behind.key), updated(mine.id));
    const [start] = await subscription.received(1);
    const position = start.data!.generationUpdated.queuePosition!;
    expect(position).toBe(second.queuePosition! + 1);

    // One move at a time: a position is counted when the update is sent, so the claim waits for the first.
    await server().graphql(`mutation { cancelGeneration(id: "${first.id}") { id } }`, { key: ahead.key });
    await subscription.received(2);
    await claim(second.id);
    const results = await subscription.received(3);
    expect(results.map((result) => result.data!.generationUpdated.queuePosition)).toEqual([position, position - 1, position - 2]);
    expect(results.every((result) => result.data!.generationUpdated.status === 'QUEUED')).toBe(true);
  });

  it("answers NOT_FOUND for someone else's generation or a malformed id; refuses the connection without a key", async () => {
    const owner = await server().createUser('private');
    const stranger = await server().createUser('curious');
    const { id } = (await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    for (const [key, target, code] of [
      [stranger.key, id, 'NOT_FOUND'],
      [owner.key, 'bogus', 'NOT_FOUND'],
    ] as const) {
      const subscription = subscribe(connect(key), updated(target));
      const error = await subscription.finished;
      const errors = subscription.results[0]?.errors ?? (error as { extensions?: { code?: string } }[]);
      expect(errors.map((e) => e.extensions?.code)).toEqual([code]);
    }
    // Without a key the socket itself is refused (4403 Forbidden), before any operation.
    const anonymous = subscribe(connect(undefined), updated(id));
    expect(((await anonymous.finished) as { code?: number }).code).toBe(4403);
    expect(anonymous.results).toEqual([]);
  });
});

describe('myGenerations', () => {
  it("gives every change to the caller's generations, new ones included, and nobody else's", async () => {
    const { key } = await server().createUser('busy');
    const other = await server().createUser('bystander');
    const subscription = subscribe(connect(key), `subscription { myGenerations { ${FIELDS} } }`);
    // The subscription is live once a first update can reach it; a generation of its own proves it.
    const first = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    await subscription.received(1);

    await generate(server(), other.key, { modelId: 'tiny-sd15', prompt: 'not yours' });
    const second = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'y' })).data!.generateImage;
    await claim(first.id);
    await server().graphql(`mutation { cancelGeneration(id: "${first.id}") { id } }`, { key });
    await server().graphql(`mutation { cancelGeneration(id: "${second.id}") { id } }`, { key });

    const results = await subscription.received(6);
    const seen = results.map(({ data }) => data!.myGenerations);
    expect(seen.map((update) => [update.id, update.status, update.cancelRequested])).toEqual([
      [first.id, 'QUEUED', false],
      [second.id, 'QUEUED', false],
      [first.id, 'RUNNING', false],
      // The first one left the queue, so the second moved up.
      [second.id, 'QUEUED', false],
      [first.id, 'RUNNING', true],
      [second.id, 'CANCELLED', false],
    ]);
    expect(seen[3].queuePosition).toBe(seen[1].queuePosition! - 1);
  });
});

/** Waits until `test` holds, checking every few milliseconds. */
async function eventually(test: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !test(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() - started > 5_000) throw new Error(`still not so after 5 s: ${what}`);
  }
}

describe('subscriptions sharing one execution per update', () => {
  it("gives a user's subscriptions with the same query the same, correct updates, and another user only theirs", async () => {
    const alice = await server().createUser('alice');
    const bob = await server().createUser('bob');
    const query = `subscription { myGenerations { ${FIELDS} } }`;
    const aliceClient = connect(alice.key);
    const alices = [follow<GenerationView>(aliceClient, query, {}, 'myGenerations'), follow<GenerationView>(aliceClient, query, {}, 'myGenerations')];
    alices.push(follow<GenerationView>(connect(alice.key), query, {}, 'myGenerations'));
    const bobs = follow<GenerationView>(connect(bob.key), query, {}, 'myGenerations');
    const { pubSub } = server().server.services;
    await eventually(() => pubSub.listenerCount(USER_GENERATIONS_TOPIC, alice.user.id) === 3 && pubSub.listenerCount(USER_GENERATIONS_TOPIC, bob.user.id) === 1, 'all subscribed');

    const mine = (await generate(server(), alice.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const theirs = (await generate(server(), bob.key, { modelId: 'tiny-sd15', prompt: 'y' })).data!.generateImage;
    await claim(mine.id);
    const preview = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f80' } }).webp().toBuffer();
    await progress(mine.id, 0, 1, preview);
    await finishGeneration(server().server.services.lifecycle, mine.id, { status: 'SUCCEEDED', images: [] }, { statuses: ['RUNNING'] });
    await server().graphql(`mutation { cancelGeneration(id: "${theirs.id}") { id } }`, { key: bob.key });

    const ended = (update: GenerationView) => update.status === 'SUCCEEDED' || update.status === 'CANCELLED';
    await Promise.all([...alices, bobs].map((subscription) => subscription.until(ended)));
    const [seen, ...alsoSeen] = alices.map((subscription) => subscription.updates);
    expect(seen.map((update) => [update.id, update.status, update.step, update.previewUrl !== null])).toEqual([
      [mine.id, 'QUEUED', 0, false],
      [mine.id, 'RUNNING', 0, false],
      [mine.id, 'RUNNING', 1, true],
      [mine.id, 'SUCCEEDED', 1, true],
    ]);
    expect(alsoSeen).toEqual([seen, seen]);
    // Bob's job was behind Alice's in the queue: his stream also gave it when it moved up.
    expect(new Set(bobs.updates.map((update) => update.id))).toEqual(new Set([theirs.id]));

    // What they got is what a query of their own gives.
    const now = async (key: string, id: string) =>
      (await server().graphql<{ generation: GenerationView }>(`{ generation(id: "${id}") { ${FIELDS} } }`, { key })).data!.generation;
    expect(seen.at(-1)).toEqual(await now(alice.key, mine.id));
    expect(bobs.updates.at(-1)).toEqual(await now(bob.key, theirs.id));
  });
});

describe('pubSub listeners', () => {
  it('are all taken off however subscriptions end, and a crowd watching one generation raises no leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const { key } = await server().createUser('crowd');
      const { id } = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
      const { pubSub } = server().server.services;
      const listening = () => [pubSub.listenerCount(GENERATION_TOPIC, id), pubSub.listenerCount(ALL_GENERATIONS_TOPIC)];
      const [, othersOnAll] = listening();

      // More than Node's default limit of 10; each follows a QUEUED job, so it also listens to all jobs.
      const watchers = Array.from({ length: 12 }, () => {
        const client = connect(key);
        return { client, subscription: follow<GenerationView>(client, updated(id), {}, 'generationUpdated') };
      });
      await Promise.all(watchers.map(({ subscription }) => subscription.until(() => true)));
      expect(listening()).toEqual([12, othersOnAll + 12]);

      // Four unsubscribe, four disconnect, and four stay until the generation ends.
      for (const { subscription } of watchers.slice(0, 4)) subscription.stop();
      await Promise.all(watchers.slice(4, 8).map(({ client }) => client.dispose()));
      await eventually(() => listening()[0] === 4, 'only the last four listen');
      await claim(id);
      await finishGeneration(server().server.services.lifecycle, id, { status: 'SUCCEEDED', images: [] }, { statuses: ['RUNNING'] });
      await Promise.all(watchers.slice(8).map(({ subscription }) => subscription.done));
      await eventually(() => listening()[0] === 0 && listening()[1] === othersOnAll, 'nobody listens');
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('followGeneration', () => {
  it('lets go at once when the client leaves while it waits for an update', async () => {
    const { user, key } = await server().createUser('leaver');
    const { id } = (await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const updates = await followGeneration(server().server.services.pubSub, user.id, id);
    expect((await updates.next()).value).toMatchObject({ status: 'QUEUED' });
    const waiting = updates.next();
    const left = await Promise.race([updates.return!(undefined).then(() => 'left'), new Promise((resolve) => setTimeout(resolve, 1_000, 'stuck'))]);
    expect(left).toBe('left');
    expect(await waiting).toEqual({ done: true, value: undefined });
    // Nothing reaches it any more.
    await claim(id);
    expect(await updates.next()).toEqual({ done: true, value: undefined });
  });
});
