import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readParameters, readPngText } from '@easel/gpu-runtime/pipeline';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { expectTokensAccountedFor } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';
import { follow, wsClient } from './subscriptions-client.js';
import { balanceOf, generate, GENERATION_FIELDS, type GenerationView } from './support.js';

/*
 * The path `npm start` takes, all of it real: GraphQL over HTTP and WebSocket, the dispatcher,
 * the AWS Lambda client, the local Invoke server with the GPU function in this process (no
 * LAMBDA_ENDPOINT), the pipeline on the tiny models, signed callbacks, GridFS.
 */

const TINY_MODELS = sharedTinyModelsDir();
beforeAll(() => makeTinyModels(TINY_MODELS));
const server = useTestServer({ MODELS_DIR: TINY_MODELS, GPU_CONCURRENCY: '2', JOB_LEASE_SECONDS: '10' });

const FOLLOW_ONE = `subscription ($id: ID!) { generationUpdated(id: $id) { ${GENERATION_FIELDS} } }`;
const FOLLOW_MINE = `subscription { myGenerations { ${GENERATION_FIELDS} } }`;

const clients: ReturnType<typeof wsClient>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

async function newUser(name: string, plan: 'FREE' | 'PLUS' = 'FREE') {
  const { user, key } = await server().createUser(`${name}-${Math.random().toString(36).slice(2, 8)}`, { plan });
  const client = wsClient(server().url, key);
  clients.push(client);
  return { user, key, client, holder: { userId: user.id, plan } };
}

async function queue(key: string, input: Record<string, unknown>): Promise<GenerationView> {
  const response = await generate(server(), key, { modelId: 'tiny-sd15', enhancePrompt: false, ...input });
  expect(response.errors).toBeUndefined();
  return response.data!.generateImage;
}

/** Consecutive repeats collapsed: the statuses a subscriber saw, in order. */
const statusPath = (updates: GenerationView[]) => updates.map((update) => update.status).filter((status, i, all) => status !== all[i - 1]);

/** A job long enough on the tiny model (about a second here) to be caught mid-run. */
const LONG_JOB = { width: 256, height: 256, steps: 150, batchSize: 4, prompt: 'a long exposure of a harbour at night' };

describe('a generation, end to end', () => {
  it('streams ordered progress with previews to subscribers, completes, and serves the PNG with its parameters', async () => {
    const painter = await newUser('painter');
    const mine = follow<GenerationView>(painter.client, FOLLOW_MINE, {}, 'myGenerations');
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the subscription start before the job

    const queued = await queue(painter.key, { prompt: 'a lighthouse at dusk, (oil painting:1.2)', width: 128, height: 128, steps: 12, seed: 42, sampler: 'DPM++ 2M Karras' });
    expect(queued.status).toBe('QUEUED');
    const feed = follow<GenerationView>(painter.client, FOLLOW_ONE, { id: queued.id }, 'generationUpdated');
    await feed.done;

    const { updates } = feed;
    expect(['QUEUED', 'RUNNING', 'SUCCEEDED'].join()).toContain(statusPath(updates).join());
    expect(statusPath(updates).at(-1)).toBe('SUCCEEDED');
    const steps = updates.map((update) => update.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    const progress = updates.filter((update) => update.status === 'RUNNING' && update.step > 0);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((update) => update.totalSteps === 12)).toBe(true);
    const previews = progress.map((update) => update.previewUrl).filter((url) => url !== null);
    expect(previews.length).toBeGreaterThan(0);
    for (const url of previews) {
      expect(url).toMatch(/^data:image\/webp;base64,./);
      expect(await sharp(Buffer.from(url.split(',')[1], 'base64')).metadata()).toMatchObject({ format: 'webp' });
    }

    const done = updates.at(-1)!;
    expect(done).toMatchObject({ step: 12, refunded: false, tokensCharged: 1, seed: 42, error: null });
    expect(done.images).toHaveLength(1);
    const image = await fetch(done.images[0].url, { headers: { authorization: `Bearer ${painter.key}` } });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    const png = new Uint8Array(await image.arrayBuffer());
    const parameters = readParameters(png);
    // The API serves the PNG's infotext as it is in the file, for "Copy parameters".
    expect(done.images[0].infotext).toBe(readPngText(png).parameters);
    expect(done.images[0].infotext).toContain('Steps: 12, Sampler: DPM++ 2M');
    expect(parameters).toMatchObject({
      prompt: 'a lighthouse at dusk, (oil painting:1.2)',
      steps: 12,
      seed: 42,
      width: 128,
      height: 128,
      sampler: 'dpmpp_2m',
      schedule: 'karras',
      cfgScale: 7,
    });

    const stranger = await newUser('stranger');
    expect((await fetch(done.images[0].url, { headers: { authorization: `Bearer ${stranger.key}` } })).status).toBe(404);

    // myGenerations saw the same job, in the same order, through to its end.
    await mine.until((update) => update.id === queued.id && update.status === 'SUCCEEDED');
    expect(statusPath(mine.updates.filter((update) => update.id === queued.id)).at(-1)).toBe('SUCCEEDED');
    mine.stop();

    expect(await balanceOf(server(), painter.key)).toBe(19);
    await expectTokensAccountedFor(server().server.services.tokens, painter.holder);
  });

  it('cancels a queued job at once and a running one at its next step, each refunded once', async () => {
    const ada = await newUser('ada'); // FREE: one job at a time, so her second one waits
    const running = await queue(ada.key, LONG_JOB);
    const first = follow<GenerationView>(ada.client, FOLLOW_ONE, { id: running.id }, 'generationUpdated');
    await first.until((update) => update.status === 'RUNNING' && update.step > 0);

    const waiting = await queue(ada.key, { ...LONG_JOB, steps: 4 });
    expect(waiting).toMatchObject({ status: 'QUEUED', queuePosition: 1 });
    const cancelQueued = await server().graphql(`mutation ($id: ID!) { cancelGeneration(id: $id) { ${GENERATION_FIELDS} } }`, {
      key: ada.key,
      variables: { id: waiting.id },
    });
    expect(cancelQueued.data?.cancelGeneration).toMatchObject({ status: 'CANCELLED', refunded: true });

    const cancelRunning = await server().graphql(`mutation ($id: ID!) { cancelGeneration(id: $id) { status cancelRequested } }`, {
      key: ada.key,
      variables: { id: running.id },
    });
    expect(cancelRunning.data?.cancelGeneration).toEqual({ status: 'RUNNING', cancelRequested: true });
    await first.done;
    const ended = first.updates.at(-1)!;
    expect(ended).toMatchObject({ status: 'CANCELLED', refunded: true, images: [] });
    expect(ended.step).toBeLessThan(150);

    expect(await balanceOf(server(), ada.key)).toBe(20);
    await expectTokensAccountedFor(server().server.services.tokens, ada.holder);
  });
});
