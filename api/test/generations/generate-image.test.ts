import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SEED } from '@easel/schema';
import { CHARGE_TIMEOUT_MS, chargeGeneration } from '../../src/generations/create/charging.js';
import { GenerationModel } from '../../src/generations/generation.js';
import { chargingGeneration } from '../support/generation-fixtures.js';
import { codes, useTestServer } from '../support/server.js';
import { balanceOf, generate, GENERATION_FIELDS, installModel, type GenerationView } from './support.js';

// GPU_CONCURRENCY=0: the dispatcher sends nothing, so every job stays where these tests put it.
// Its races send hundreds of generateImage calls in a burst: the rate limit has its own test (abuse suite).
const server = useTestServer({ GPU_CONCURRENCY: '0', RATE_LIMIT_GENERATE: '0' });

const MODEL = 'tiny-sd15';

beforeAll(async () => {
  await installModel(server(), 'tiny-sd15');
  await installModel(server(), 'tiny-sdxl');
});

const ledger = async (key: string) => {
  const response = await server().graphql<{ tokenLedger: { edges: { node: { kind: string; amount: number; generationId: string | null } }[] } }>(
    '{ tokenLedger(first: 100) { edges { node { kind amount generationId } } } }',
    { key },
  );
  return response.data!.tokenLedger.edges.map((edge) => edge.node);
};

const myGenerations = async (key: string, args = 'first: 100') => {
  const response = await server().graphql<{ generations: { edges: { cursor: string; node: GenerationView }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
    `{ generations(${args}) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }`,
    { key },
  );
  return response;
};

describe('generateImage', () => {
  it('queues a generation at once, with the model defaults, a random seed it stores, and one token per image', async () => {
    const { key } = await server().createUser('ada');
    const response = await generate(server(), key, { modelId: MODEL, prompt: '1girl, watercolor', negativePrompt: 'blurry', batchSize: 3 });
    expect(response.errors).toBeUndefined();
    const generation = response.data!.generateImage;
    expect(generation).toMatchObject({
      status: 'QUEUED',
      step: 0,
      totalSteps: 8,
      images: [],
      prompt: '1girl, watercolor',
      negativePrompt: 'blurry',
      enhancePrompt: true,
      model: { name: 'Tiny SD 1.5 (demo)', family: 'SD15' },
      settings: { width: 128, height: 128, steps: 8, cfgScale: 7, sampler: 'Euler a', samplerId: 'euler_a', schedule: 'normal', clipSkip: 1, batchSize: 3 },
      sampler: 'Euler a',
      tokensCharged: 3,
      refunded: false,
      baseImageId: null,
    });
    expect(generation.queuePosition).toBeGreaterThanOrEqual(1);
    // The SD 1.5 preset's tags, in front of what the user wrote.
    expect(generation.finalPrompt).toBe('masterpiece, best quality, 1girl, watercolor');
    expect(generation.finalNegativePrompt).toMatch(/^lowres, .*, blurry$/);
    expect(Number.isInteger(generation.seed) && generation.seed >= 0 && generation.seed <= MAX_SEED).toBe(true);
    expect(generation.settings.seed).toBe(generation.seed);
    expect(Date.parse(generation.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    const stored = await GenerationModel.findById(generation.id).lean();
    expect(stored?.settings.seed).toBe(generation.seed);
    expect(await balanceOf(server(), key)).toBe(17);
    expect((await ledger(key)).find((entry) => entry.kind === 'DEBIT')).toEqual({ kind: 'DEBIT', amount: -3, generationId: generation.id });
  });

  it('takes the settings it is given: A1111 sampler labels, a separate schedule type, a seed, raw prompts', async () => {
    const { key } = await server().createUser('grace');
    const response = await generate(server(), key, {
      modelId: MODEL,
      prompt: '1girl',
      enhancePrompt: false,
      width: 256,
      height: 256,
      steps: 20,
      cfgScale: 4.5,
      sampler: 'DPM++ 2M SDE Karras',
      clipSkip: 2,
      seed: MAX_SEED,
    });
    expect(response.errors).toBeUndefined();
    expect(response.data!.generateImage).toMatchObject({
      finalPrompt: '1girl',
      finalNegativePrompt: '',
      seed: MAX_SEED,
      sampler: 'DPM++ 2M SDE Karras',
      settings: { width: 256, height: 256, steps: 20, cfgScale: 4.5, samplerId: 'dpmpp_2m_sde', schedule: 'karras', clipSkip: 2 },
    });

    const scheduled = await generate(server(), key, { modelId: MODEL, prompt: 'x', sampler: 'DPM++ 2M', scheduleType: 'Exponential', seed: -1 });
    expect(scheduled.data!.generateImage).toMatchObject({ sampler: 'DPM++ 2M Exponential', settings: { samplerId: 'dpmpp_2m', schedule: 'exponential' } });
    expect(scheduled.data!.generateImage.seed).toBeGreaterThanOrEqual(0);
  });

  it("takes A1111's hires fix and padConds, one token per image, and refuses a hires fix it cannot make", async () => {
    const { key } = await server().createUser('hiro');
    const response = await generate(server(), key, {
      modelId: MODEL,
      prompt: 'a castle',
      width: 256,
      height: 256,
      denoiseStrength: 0.4,
      padConds: true,
      hires: { scale: 1.5, upscaler: 'Latent (bicubic)', steps: 8, prompt: 'a castle, detailed', sampler: 'DPM++ 2M', scheduleType: 'Karras' },
    });
    expect(response.errors).toBeUndefined();
    const stored = await GenerationModel.findById(response.data!.generateImage.id).lean();
    expect(stored?.settings).toMatchObject({
      denoiseStrength: 0.4,
      padConds: true,
      hires: { scale: 1.5, resizeWidth: 0, resizeHeight: 0, upscaler: 'Latent (bicubic)', steps: 8, prompt: 'a castle, detailed', negativePrompt: '', sampler: 'dpmpp_2m', schedule: 'karras' },
    });
    expect(await balanceOf(server(), key)).toBe(19);
    // And the API shows them as stored.
    const shown = await server().graphql<{ generation: { settings: { padConds: boolean; hires: Record<string, unknown> | null } } }>(
      `query ($id: ID!) { generation(id: $id) { settings { padConds hires { scale resizeWidth resizeHeight upscaler steps prompt negativePrompt samplerId schedule } } } }`,
      { key, variables: { id: response.data!.generateImage.id } },
    );
    expect(shown.data!.generation.settings).toEqual({
      padConds: true,
      hires: { scale: 1.5, resizeWidth: 0, resizeHeight: 0, upscaler: 'Latent (bicubic)', steps: 8, prompt: 'a castle, detailed', negativePrompt: '', samplerId: 'dpmpp_2m', schedule: 'karras' },
    });
    const plain = await generate(server(), key, { modelId: MODEL, prompt: 'a cat', width: 256, height: 256 });
    const plainShown = await server().graphql<{ generation: { settings: { padConds: boolean; hires: null } } }>(`query ($id: ID!) { generation(id: $id) { settings { padConds hires { scale } } } }`, {
      key,
      variables: { id: plain.data!.generateImage.id },
    });
    expect(plainShown.data!.generation.settings).toEqual({ padConds: false, hires: null });

    for (const [hires, field] of [
      [{ upscaler: 'ESRGAN_4x' }, 'hires.upscaler'],
      [{ scale: 9 }, 'hires.scale'],
      [{ resizeWidth: 4096 }, 'hires.resizeWidth'],
      [{ scale: 4, resizeWidth: 0 }, 'hires'],
      [{ sampler: 'Nope 3000' }, 'hires.sampler'],
    ] as const) {
      const refused = await generate(server(), key, { modelId: MODEL, prompt: 'a cat', width: 768, height: 768, hires });
      expect(codes(refused), JSON.stringify(hires)).toEqual(['BAD_USER_INPUT']);
      expect((refused.errors![0].extensions!.invalidFields as { field: string }[]).map((problem) => problem.field), JSON.stringify(hires)).toContain(field);
    }
    expect(await balanceOf(server(), key)).toBe(18);
  });

  it('refuses bad input with BAD_USER_INPUT naming the field, and charges and stores nothing', async () => {
    const { key } = await server().createUser('linus');
    const cases: [Record<string, unknown>, string][] = [
      [{ steps: 0 }, 'steps'],
      [{ steps: 151 }, 'steps'],
      [{ cfgScale: 0.5 }, 'cfgScale'],
      [{ clipSkip: 13 }, 'clipSkip'],
      [{ batchSize: 5 }, 'batchSize'],
      [{ batchSize: 0 }, 'batchSize'],
      [{ width: 100, height: 128 }, 'width'],
      [{ width: 512, height: 512 }, 'width'],
      [{ height: 64 }, 'height'],
      [{ sampler: 'Nope 3000' }, 'sampler'],
      [{ sampler: 'Euler', scheduleType: 'Sideways' }, 'scheduleType'],
      [{ denoiseStrength: 0.5 }, 'denoiseStrength'],
      [{ seed: MAX_SEED + 1 }, 'seed'],
      [{ seed: 1.5 }, 'seed'],
      [{ seed: -2 }, 'seed'],
      [{ subseed: -2 }, 'subseed'],
      [{ subseedStrength: 1.5 }, 'subseedStrength'],
      [{ etaNoiseSeedDelta: -1 }, 'etaNoiseSeedDelta'],
      [{ prompt: '' }, 'prompt'],
      [{ prompt: 'x'.repeat(10_001) }, 'prompt'],
      [{ clientRequestId: '' }, 'clientRequestId'],
    ];
    for (const [change, field] of cases) {
      const response = await generate(server(), key, { modelId: MODEL, prompt: 'a cat', ...change });
      expect(codes(response), JSON.stringify(change)).toEqual(['BAD_USER_INPUT']);
      const invalid = response.errors![0].extensions!.invalidFields as { field: string; message: string }[];
      expect(invalid.map((problem) => problem.field), JSON.stringify(change)).toContain(field);
      expect(response.errors![0].message).toMatch(/^Invalid input: /);
    }
    expect(await balanceOf(server(), key)).toBe(20);
    expect((await ledger(key)).filter((entry) => entry.kind === 'DEBIT')).toEqual([]);
    expect((await myGenerations(key)).data!.generations.edges).toEqual([]);
  });

  it('says which models cannot be used: unknown (NOT_FOUND), retired or not installed (BAD_USER_INPUT)', async () => {
    const { key } = await server().createUser('margaret');
    const unknown = await generate(server(), key, { modelId: 'no-such-model', prompt: 'x' });
    expect(codes(unknown)).toEqual(['NOT_FOUND']);
    expect(unknown.errors![0].message).toContain('no-such-model');

    const notInstalled = await generate(server(), key, { modelId: 'stable-diffusion-v1-5', prompt: 'x' });
    expect(codes(notInstalled)).toEqual(['BAD_USER_INPUT']);
    expect(notInstalled.errors![0].message).toMatch(/not installed/);
    expect(notInstalled.errors![0].extensions!.invalidFields).toEqual([{ field: 'modelId', message: expect.any(String) }]);

    await server().server.services.catalog.retire('tiny-sdxl');
    const retired = await generate(server(), key, { modelId: 'tiny-sdxl', prompt: 'x' });
    expect(codes(retired)).toEqual(['BAD_USER_INPUT']);
    expect(retired.errors![0].message).toMatch(/retired/);
    expect(await balanceOf(server(), key)).toBe(20);
  });

  it('answers INSUFFICIENT_TOKENS with the balance and what was needed, and stores nothing', async () => {
    const { user, key } = await server().createUser('barbara');
    for (const batchSize of [4, 4, 4, 4, 2]) {
      expect((await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize })).errors).toBeUndefined();
    }
    const response = await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 3 });
    expect(codes(response)).toEqual(['INSUFFICIENT_TOKENS']);
    expect(response.errors![0].extensions).toMatchObject({ balance: 2, needed: 3, resetsAt: expect.any(String) });
    expect(response.errors![0].message).toMatch(/needs 3 tokens and you have 2/);
    expect(await balanceOf(server(), key)).toBe(2);
    expect((await myGenerations(key)).data!.generations.edges).toHaveLength(5);
    expect(await GenerationModel.countDocuments({ userId: user.id })).toBe(5);
  });

  it('charges exactly the balance when 200 requests race for 20 tokens', async () => {
    const { user, key } = await server().createUser('racer');
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => generate(server(), key, { modelId: MODEL, prompt: `race ${i}` })));
    const accepted = responses.filter((response) => response.data?.generateImage);
    expect(accepted).toHaveLength(20);
    expect(responses.filter((response) => codes(response)[0] === 'INSUFFICIENT_TOKENS')).toHaveLength(180);
    expect(await balanceOf(server(), key)).toBe(0);

    const entries = await ledger(key);
    expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(0);
    const debited = entries.filter((entry) => entry.kind === 'DEBIT').map((entry) => entry.generationId);
    const queued = (await myGenerations(key)).data!.generations.edges.map((edge) => edge.node.id);
    expect(new Set(debited)).toEqual(new Set(accepted.map((response) => response.data!.generateImage.id)));
    // No charge voided (a DEBIT of 0): a request waiting for its turn is never taken for a crashed one.
    expect(debited).toHaveLength(accepted.length);
    expect(new Set(queued)).toEqual(new Set(debited));
    // Nothing hidden is left behind by the 180 refused.
    expect(await GenerationModel.countDocuments({ userId: user.id })).toBe(20);
  });

  it('returns the same generation for the same clientRequestId, charging once, also when the requests race', async () => {
    const { key } = await server().createUser('idem');
    const first = await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 2, clientRequestId: 'req-1' });
    const again = await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 2, clientRequestId: 'req-1' });
    expect(again.data!.generateImage.id).toBe(first.data!.generateImage.id);
    expect(again.data!.generateImage.clientRequestId).toBe('req-1');
    expect(await balanceOf(server(), key)).toBe(18);

    const racing = await Promise.all(
      Array.from({ length: 10 }, () => generate(server(), key, { modelId: MODEL, prompt: 'y', batchSize: 2, clientRequestId: 'req-2' })),
    );
    expect(new Set(racing.map((response) => response.data?.generateImage.id)).size).toBe(1);
    expect(await balanceOf(server(), key)).toBe(16);
    expect((await ledger(key)).filter((entry) => entry.kind === 'DEBIT')).toHaveLength(2);

    // Another user's request id is theirs alone.
    const other = await server().createUser('idem-other');
    const theirs = await generate(server(), other.key, { modelId: MODEL, prompt: 'x', clientRequestId: 'req-1' });
    expect(theirs.data!.generateImage.id).not.toBe(first.data!.generateImage.id);
  });

  it("waits while another API instance charges the same clientRequestId, and returns that instance's generation, charged once", async () => {
    const { user, key } = await server().createUser('two-instances');
    const holder = { userId: user.id, plan: user.plan };
    // The other instance has stored its generation (step 1) and not yet charged it.
    const theirs = await chargingGeneration(holder, { fields: { requestKey: `${user.id}:cross`, clientRequestId: 'cross', tokensCharged: 3 } });
    const response = generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 3, clientRequestId: 'cross' });
    await sleep(100);
    await chargeGeneration(server().server.services.lifecycle, theirs, 'the other instance charging');

    expect((await response).data!.generateImage).toMatchObject({ id: String(theirs._id), status: 'QUEUED' });
    expect(await balanceOf(server(), key)).toBe(17);
    expect((await ledger(key)).map((entry) => [entry.kind, entry.amount])).toEqual([
      ['DEBIT', -3],
      ['DAILY_TOPUP', 20],
    ]);
  });

  it('settles what a request that crashed while charging left, when its clientRequestId comes again', async () => {
    const { user, key } = await server().createUser('crash-retry');
    const holder = { userId: user.id, plan: user.plan };
    const stale = CHARGE_TIMEOUT_MS + 1_000;
    const left = (clientRequestId: string) =>
      chargingGeneration(holder, { ageMs: stale, fields: { requestKey: `${user.id}:${clientRequestId}`, clientRequestId, tokensCharged: 2 } });

    // Crashed after its debit: the retry gets that generation, queued, charged once.
    const charged = await left('charged');
    await server().server.services.tokens.debit(holder, { generationId: String(charged._id), amount: 2, reason: 'before the crash' });
    const again = await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 2, clientRequestId: 'charged' });
    expect(again.data!.generateImage).toMatchObject({ id: String(charged._id), status: 'QUEUED' });
    expect(await balanceOf(server(), key)).toBe(18);

    // Crashed before its debit: that one is dropped, charging nothing, and the retry makes its own.
    const uncharged = await left('uncharged');
    const retried = await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 2, clientRequestId: 'uncharged' });
    expect(retried.data!.generateImage).toMatchObject({ status: 'QUEUED', clientRequestId: 'uncharged' });
    expect(retried.data!.generateImage.id).not.toBe(String(uncharged._id));
    expect(await GenerationModel.exists({ _id: uncharged._id })).toBeNull();
    expect(await balanceOf(server(), key)).toBe(16);
    expect((await ledger(key)).map((entry) => [entry.kind, entry.amount, entry.generationId])).toEqual([
      ['DEBIT', -2, retried.data!.generateImage.id],
      ['DEBIT', 0, String(uncharged._id)],
      ['DEBIT', -2, String(charged._id)],
      ['DAILY_TOPUP', 20, null],
    ]);
  });

  it('counts queue positions in FIFO order', async () => {
    const { key } = await server().createUser('queuer');
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await generate(server(), key, { modelId: MODEL, prompt: `q${i}` })).data!.generateImage);
    expect(made[1].queuePosition).toBe(made[0].queuePosition! + 1);
    expect(made[2].queuePosition).toBe(made[0].queuePosition! + 2);
    const read = await server().graphql<{ generation: GenerationView }>('query ($id: ID!) { generation(id: $id) { queuePosition } }', {
      key,
      variables: { id: made[2].id },
    });
    expect(read.data!.generation.queuePosition).toBe(made[2].queuePosition);
  });

  it('needs an API key', async () => {
    const response = await generate(server(), '', { modelId: MODEL, prompt: 'x' });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it("maps Schedule type Automatic per sampler as A1111 1.9+ does, and takes A1111's noise settings", async () => {
    const { key } = await server().createUser('ada-noise');
    // A1111's sampler table: DPM++ 2M → Karras, DPM++ 3M SDE → Exponential, Euler a → the model's own (Normal).
    const automatic = await generate(server(), key, { modelId: MODEL, prompt: 'x', sampler: 'DPM++ 2M', scheduleType: 'Automatic' });
    expect(automatic.data!.generateImage.settings).toMatchObject({ samplerId: 'dpmpp_2m', schedule: 'karras' });
    const noisy = await generate(server(), key, {
      modelId: MODEL,
      prompt: 'x',
      sampler: 'Euler a',
      rngSource: 'CPU',
      subseed: 99,
      subseedStrength: 0.25,
      etaNoiseSeedDelta: 31337,
    });
    expect(noisy.data!.generateImage.settings).toMatchObject({ schedule: 'normal', rngSource: 'CPU', subseed: 99, subseedStrength: 0.25, etaNoiseSeedDelta: 31337 });
    // Defaults: NV and no ENSD; a random variation seed when only a strength is given.
    const varied = await generate(server(), key, { modelId: MODEL, prompt: 'x', sampler: 'DPM++ 3M SDE', subseedStrength: 0.5 });
    expect(varied.data!.generateImage.settings).toMatchObject({ schedule: 'exponential', rngSource: 'NV', subseedStrength: 0.5, etaNoiseSeedDelta: 0 });
    expect(varied.data!.generateImage.settings.subseed).toBeGreaterThanOrEqual(0);
  });
});

describe('generation, generations and cancelGeneration', () => {
  const byId = (key: string, id: string) =>
    server().graphql<{ generation: GenerationView | null }>(`query ($id: ID!) { generation(id: $id) { ${GENERATION_FIELDS} } }`, { key, variables: { id } });
  const cancel = (key: string, id: string) =>
    server().graphql<{ cancelGeneration: GenerationView }>(`mutation ($id: ID!) { cancelGeneration(id: $id) { ${GENERATION_FIELDS} } }`, {
      key,
      variables: { id },
    });

  it("shows a user their own generations only: someone else's is NOT_FOUND, as is a malformed id", async () => {
    const owner = await server().createUser('owner');
    const stranger = await server().createUser('stranger');
    const { id } = (await generate(server(), owner.key, { modelId: MODEL, prompt: 'mine' })).data!.generateImage;

    expect((await byId(owner.key, id)).data!.generation).toMatchObject({ id, prompt: 'mine' });
    for (const [key, target] of [
      [stranger.key, id],
      [owner.key, 'not-an-id'],
      [owner.key, '0123456789abcdef01234567'],
    ]) {
      const response = await byId(key, target);
      expect(codes(response)).toEqual(['NOT_FOUND']);
      expect(response.data?.generation).toBeNull();
    }
    expect(codes(await cancel(stranger.key, id))).toEqual(['NOT_FOUND']);
    expect((await byId(owner.key, id)).data!.generation!.status).toBe('QUEUED');
    expect((await myGenerations(stranger.key)).data!.generations.edges).toEqual([]);
  });

  it('pages through generations newest first, filtered by status', async () => {
    const { key } = await server().createUser('pager');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await generate(server(), key, { modelId: MODEL, prompt: `p${i}` })).data!.generateImage.id);
    await cancel(key, ids[1]);

    const first = (await myGenerations(key, 'first: 2')).data!.generations;
    expect(first.edges.map((edge) => edge.node.id)).toEqual([ids[4], ids[3]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await myGenerations(key, `first: 2, after: "${first.pageInfo.endCursor}"`)).data!.generations;
    expect(second.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[1]]);
    const third = (await myGenerations(key, `first: 2, after: "${second.pageInfo.endCursor}"`)).data!.generations;
    expect(third.edges.map((edge) => edge.node.id)).toEqual([ids[0]]);
    expect(third.pageInfo.hasNextPage).toBe(false);

    const cancelled = (await myGenerations(key, 'first: 10, status: CANCELLED')).data!.generations;
    expect(cancelled.edges.map((edge) => edge.node.id)).toEqual([ids[1]]);

    expect(codes(await myGenerations(key, 'first: 0'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await myGenerations(key, 'first: 101'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await myGenerations(key, 'first: 2, after: "bogus"'))).toEqual(['BAD_USER_INPUT']);
  });

  it('cancels a QUEUED generation at once and refunds it, once', async () => {
    const { key } = await server().createUser('canceller');
    const { id } = (await generate(server(), key, { modelId: MODEL, prompt: 'x', batchSize: 4 })).data!.generateImage;
    expect(await balanceOf(server(), key)).toBe(16);

    const response = await cancel(key, id);
    expect(response.errors).toBeUndefined();
    expect(response.data!.cancelGeneration).toMatchObject({ id, status: 'CANCELLED', errorCode: 'CANCELLED', refunded: true, queuePosition: null });
    expect(await balanceOf(server(), key)).toBe(20);

    const again = await cancel(key, id);
    expect(again.data!.cancelGeneration.status).toBe('CANCELLED');
    expect(await balanceOf(server(), key)).toBe(20);
    const entries = await ledger(key);
    expect(entries.filter((entry) => entry.kind === 'REFUND')).toEqual([{ kind: 'REFUND', amount: 4, generationId: id }]);
  });

  it('asks a RUNNING generation to stop, refunding nothing until it has', async () => {
    const { key } = await server().createUser('runner');
    const { id } = (await generate(server(), key, { modelId: MODEL, prompt: 'x' })).data!.generateImage;
    // As the dispatcher's claim leaves it.
    await GenerationModel.updateOne({ _id: id }, { $set: { status: 'RUNNING', jobSecret: 's'.repeat(43), lastSequence: -1 }, $inc: { attempt: 1 } });

    const response = await cancel(key, id);
    expect(response.data!.cancelGeneration).toMatchObject({ status: 'RUNNING', cancelRequested: true, refunded: false });
    expect((await GenerationModel.findById(id).lean())?.cancelRequested).toBe(true);
    expect(await balanceOf(server(), key)).toBe(19);
  });
});
