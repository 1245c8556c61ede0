import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readParameters } from '@easel/gpu-runtime/pipeline';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { expectTokensAccountedFor } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';
import { follow, wsClient } from './subscriptions-client.js';
import { balanceOf, generate, GENERATION_FIELDS, type GenerationView } from './support.js';

/*
 * FLUX.1 [dev] on the tiny Flux model, the way `npm start` runs it: GraphQL, the dispatcher, the
 * Lambda client, the local GPU function, signed callbacks, GridFS.
 */

const TINY_MODELS = sharedTinyModelsDir();
beforeAll(() => makeTinyModels(TINY_MODELS));
const server = useTestServer({ MODELS_DIR: TINY_MODELS, GPU_CONCURRENCY: '2', JOB_LEASE_SECONDS: '10' });

const FOLLOW_ONE = `subscription ($id: ID!) { generationUpdated(id: $id) { ${GENERATION_FIELDS} settings { guidance } } }`;
const clients: ReturnType<typeof wsClient>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

async function newUser(name: string) {
  const { user, key } = await server().createUser(`${name}-${Math.random().toString(36).slice(2, 8)}`, { plan: 'PLUS' });
  const client = wsClient(server().url, key);
  clients.push(client);
  return { user, key, client, holder: { userId: user.id, plan: 'PLUS' as const } };
}

async function run(user: Awaited<ReturnType<typeof newUser>>, input: Record<string, unknown>) {
  const response = await generate(server(), user.key, { modelId: 'tiny-flux', enhancePrompt: false, ...input });
  expect(response.errors).toBeUndefined();
  const feed = follow<GenerationView & { settings: { guidance: number | null } }>(user.client, FOLLOW_ONE, { id: response.data!.generateImage.id }, 'generationUpdated');
  await feed.done;
  return feed.updates;
}

async function pngOf(url: string, key: string): Promise<Uint8Array> {
  const image = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  expect(image.status).toBe(200);
  return new Uint8Array(await image.arrayBuffer());
}

describe('Flux, end to end over the API', () => {
  it('streams progress with previews and serves a PNG whose infotext reads back with Distilled CFG Scale', async () => {
    const painter = await newUser('flux-painter');
    const updates = await run(painter, { prompt: 'a red fox sitting in a snowy forest at dawn', width: 128, height: 128, steps: 6, seed: 7, guidance: 4 });
    const done = updates.at(-1)!;
    expect(done).toMatchObject({ status: 'SUCCEEDED', step: 6, seed: 7, error: null, sampler: 'Euler', settings: { cfgScale: 1, guidance: 4 } });
    const progress = updates.filter((update) => update.status === 'RUNNING' && update.step > 0);
    expect(progress.every((update) => update.totalSteps === 6)).toBe(true);
    const previews = progress.map((update) => update.previewUrl).filter((url) => url !== null);
    expect(previews.length).toBeGreaterThan(0);
    expect(await sharp(Buffer.from(previews[0].split(',')[1], 'base64')).metadata()).toMatchObject({ format: 'webp', width: 16, height: 16 });

    const parameters = readParameters(await pngOf(done.images[0].url, painter.key))!;
    expect(parameters).toMatchObject({ prompt: 'a red fox sitting in a snowy forest at dawn', steps: 6, seed: 7, width: 128, height: 128, sampler: 'euler', cfgScale: 1, guidance: 4, model: 'Tiny FLUX.1 [dev] (demo)' });
    expect(parameters.fields['Distilled CFG Scale']).toBe('4');
    expect(await balanceOf(server(), painter.key)).toBe(199);
    await expectTokensAccountedFor(server().server.services.tokens, painter.holder);
  });

  it('uses the model default guidance (3.5) and runs img2img from an upload', async () => {
    const painter = await newUser('flux-img2img');
    const base = await sharp({ create: { width: 128, height: 128, channels: 3, background: { r: 30, g: 120, b: 200 } } }).png().toBuffer();
    const uploaded = await fetch(`${server().url}/uploads`, { method: 'POST', body: base, headers: { authorization: `Bearer ${painter.key}`, 'content-type': 'image/png' } });
    const { id } = (await uploaded.json()) as { id: string };
    const updates = await run(painter, { prompt: 'the same scene at night', width: 128, height: 128, steps: 10, seed: 3, baseImageId: id, denoiseStrength: 0.5 });
    const done = updates.at(-1)!;
    expect(done).toMatchObject({ status: 'SUCCEEDED', baseImageId: id, totalSteps: 6, settings: { guidance: 3.5, denoiseStrength: 0.5 } }); // ⌊0.5·10⌋ + 1 steps
    expect(readParameters(await pngOf(done.images[0].url, painter.key))).toMatchObject({ guidance: 3.5, denoiseStrength: 0.5 });
  });

  it('refuses a sampler that is wrong for a flow model, a CFG scale, and guidance on an SD model, charging nothing', async () => {
    const painter = await newUser('flux-refused');
    const wrongSampler = await generate(server(), painter.key, { modelId: 'tiny-flux', prompt: 'x', sampler: 'DPM++ 2M SDE Karras' });
    expect(wrongSampler.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/flow-matching models and run the Euler sampler with the Normal schedule only.*samplers query/) });
    const cfg = await generate(server(), painter.key, { modelId: 'tiny-flux', prompt: 'x', cfgScale: 7 });
    expect(cfg.errors?.[0].message).toMatch(/cfgScale at 1/);
    const sdGuidance = await generate(server(), painter.key, { modelId: 'tiny-sd15', prompt: 'x', guidance: 3.5 });
    expect(sdGuidance.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/guidance is FLUX.1 \[dev\]'s distilled guidance; .* is a SD15 model: use cfgScale/) });
    expect(await balanceOf(server(), painter.key)).toBe(200);
  });

  it('refuses a negative prompt (Flux runs without classifier-free guidance), charging nothing; the enhancer adds none', async () => {
    const painter = await newUser('flux-negative');
    const refused = await generate(server(), painter.key, { modelId: 'tiny-flux', prompt: 'a lighthouse in a storm', negativePrompt: 'blurry, lowres' });
    expect(refused.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringMatching(/negativePrompt: Tiny FLUX\.1 \[dev\] \(demo\) is a Flux model, which runs without classifier-free guidance, so a negative prompt has no effect/),
    });
    expect(await balanceOf(server(), painter.key)).toBe(200);
    await expectTokensAccountedFor(server().server.services.tokens, painter.holder);

    // No negative tags from the Flux preset either (an admin cannot set any), and an empty negative prompt is no negative prompt.
    await expect(server().server.services.catalog.updatePreset('FLUX', { negativeTags: ['blurry'] })).rejects.toThrow(/FLUX models run without classifier-free guidance and take no negative prompt/);
    const updates = await run(painter, { prompt: 'a lighthouse in a storm', negativePrompt: '', enhancePrompt: true, width: 64, height: 64, steps: 2 });
    expect(updates.at(-1)).toMatchObject({ status: 'SUCCEEDED', negativePrompt: '', finalNegativePrompt: '' });
  });

  it('the samplers query says which families take each sampler', async () => {
    const { key } = await server().createUser(`sampler-reader-${Math.random().toString(36).slice(2, 8)}`);
    const response = await server().graphql<{ samplers: { label: string; families: string[] }[] }>('{ samplers { label families } }', { key });
    const families = Object.fromEntries(response.data!.samplers.map((option) => [option.label, option.families]));
    expect(families['Euler']).toEqual(['SD15', 'SDXL', 'ILLUSTRIOUS', 'PONY', 'FLUX']);
    expect(families['Euler a']).toEqual(['SD15', 'SDXL', 'ILLUSTRIOUS', 'PONY']);
    expect(families['Euler Karras']).not.toContain('FLUX');
  });

  it('a generation carries what its prompt will do as warnings, from the answer to its end: weights read as words, a cut prompt', async () => {
    const painter = await newUser('flux-warned');
    const fields = 'id warnings { code message }';
    type Answer = { generateImage: { id: string; warnings: { code: string; message: string }[] } };
    const weighted = await server().graphql<Answer>(`mutation ($input: GenerateImageInput!) { generateImage(input: $input) { ${fields} } }`, {
      key: painter.key,
      variables: { input: { modelId: 'tiny-flux', enhancePrompt: false, prompt: 'a (cat:1.3) on the sea', width: 64, height: 64, steps: 2 } },
    });
    expect(weighted.data!.generateImage.warnings).toEqual([{ code: 'WEIGHTS_IGNORED', message: 'Flux has no attention weights: (word:1.3) and [word] are read as plain "word".' }]);
    const feed = follow<{ status: string; warnings: { code: string }[] }>(painter.client, `subscription ($id: ID!) { generationUpdated(id: $id) { status warnings { code } } }`, { id: weighted.data!.generateImage.id }, 'generationUpdated');
    await feed.done;
    expect(feed.updates.at(-1)).toEqual({ status: 'SUCCEEDED', warnings: [{ code: 'WEIGHTS_IGNORED' }] });

    // 551 T5 tokens for a model that reads 512 (counted as in the analyzePrompt test below).
    const cut = await generate(server(), painter.key, { modelId: 'tiny-flux', enhancePrompt: false, prompt: 'a cat on the sea '.repeat(110), width: 64, height: 64, steps: 2 });
    const stored = await server().graphql<{ generation: { warnings: { code: string; message: string }[] } }>(`query ($id: ID!) { generation(id: $id) { warnings { code message } } }`, { key: painter.key, variables: { id: cut.data!.generateImage.id } });
    expect(stored.data!.generation.warnings).toEqual([{ code: 'T5_PROMPT_CUT', message: 'This prompt is 551 T5 tokens long; the model reads 512, so the end is cut off.' }]);
    // A plain prompt has none.
    const plain = await server().graphql<Answer>(`mutation ($input: GenerateImageInput!) { generateImage(input: $input) { ${fields} } }`, {
      key: painter.key,
      variables: { input: { modelId: 'tiny-flux', enhancePrompt: false, prompt: 'a cat on the sea', width: 64, height: 64, steps: 2 } },
    });
    expect(plain.data!.generateImage.warnings).toEqual([]);
  });

  it('analyzePrompt counts T5 tokens with the model tokenizer, warns about weights and a cut prompt', async () => {
    const { key } = await server().createUser(`analyst-${Math.random().toString(36).slice(2, 8)}`);
    const query = `query ($prompt: String!) { analyzePrompt(modelId: "tiny-flux", prompt: $prompt) { prompt { t5TokenCount t5TokenLimit tokenCountSource warnings { code } } } }`;
    type Answer = { analyzePrompt: { prompt: { t5TokenCount: number; t5TokenLimit: number; warnings: { code: string }[] } } };
    const short = await server().graphql<Answer>(query, { key, variables: { prompt: 'a (cat:1.3) on the sea' } });
    // The tiny T5 vocabulary: ▁a ▁cat ▁on ▁the ▁sea, then </s>.
    expect(short.data!.analyzePrompt.prompt).toMatchObject({ t5TokenCount: 6, t5TokenLimit: 512 });
    expect(short.data!.analyzePrompt.prompt.warnings.map((w) => w.code)).toContain('WEIGHTS_IGNORED');
    const long = await server().graphql<Answer>(query, { key, variables: { prompt: 'a cat on the sea '.repeat(110) } });
    expect(long.data!.analyzePrompt.prompt.t5TokenCount).toBe(551);
    expect(long.data!.analyzePrompt.prompt.warnings.map((w) => w.code)).toContain('T5_PROMPT_CUT');
    const sd = await server().graphql<{ analyzePrompt: { prompt: { t5TokenCount: number | null } } }>(`{ analyzePrompt(modelId: "tiny-sd15", prompt: "a cat") { prompt { t5TokenCount } } }`, { key });
    expect(sd.data!.analyzePrompt.prompt.t5TokenCount).toBeNull();
  });

  it('analyzePrompt warns that a negative prompt has no effect on Flux (and only on Flux)', async () => {
    const { key } = await server().createUser(`negative-analyst-${Math.random().toString(36).slice(2, 8)}`);
    type Answer = { analyzePrompt: { negativePrompt: { warnings: { code: string; start: number; end: number; replacement: string }[] } } };
    const query = `query ($model: ID!) { analyzePrompt(modelId: $model, prompt: "a cat on the sea", negativePrompt: "blurry") { negativePrompt { warnings { code start end replacement } } } }`;
    const flux = await server().graphql<Answer>(query, { key, variables: { model: 'tiny-flux' } });
    expect(flux.data!.analyzePrompt.negativePrompt.warnings).toContainEqual({ code: 'NEGATIVE_PROMPT_UNUSED', start: 0, end: 6, replacement: '' });
    const sd = await server().graphql<Answer>(query, { key, variables: { model: 'tiny-sd15' } });
    expect(sd.data!.analyzePrompt.negativePrompt.warnings.map((w) => w.code)).not.toContain('NEGATIVE_PROMPT_UNUSED');
  });
});
