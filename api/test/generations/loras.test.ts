import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readParameters } from '@easel/gpu-runtime/pipeline';
import { buildTinyLora, encodeSafetensors, makeTinyModels, writeDemoLoras } from '@easel/gpu-runtime/tiny-models';
import { LoraModel } from '../../src/catalog/lora-entry.js';
import { GenerationModel } from '../../src/generations/generation.js';
import { TINY_SD15, chargedGeneration } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';
import { balanceOf, generate, type GenerationView } from './support.js';

/*
 * LoRAs over the real path: the admin adds them over GraphQL, users name them in prompts or in
 * `loras`, the GPU function (local, in this process) merges them into the tiny models.
 */

// Its own folder: other test files (and other checkouts on this machine) rewrite the shared one.
const TINY_MODELS = path.join(os.tmpdir(), `easel-tiny-models-loras-${process.pid}`);
const LORAS_DIR = path.join(os.tmpdir(), `easel-loras-${process.pid}`);
let sd15Dir: string;
beforeAll(async () => {
  const models = await makeTinyModels(TINY_MODELS);
  sd15Dir = models['tiny-sd15'];
  await writeDemoLoras(models, LORAS_DIR);
  await writeFile(path.join(LORAS_DIR, 'style.ckpt'), 'not allowed');
});
// One job at a time: a test holds the GPU's one slot to keep a generation queued.
const server = useTestServer({ MODELS_DIR: TINY_MODELS, LORAS_DIR, GPU_CONCURRENCY: '1' });

const ADD = `mutation ($input: AddLoraInput!) { addLora(input: $input) { name families triggerWords defaultWeight shortHash sha256 } }`;
const REMOVE = `mutation ($name: String!) { removeLora(name: $name) { name } }`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** A1111's addnet_hash_safetensors: sha256 of what follows the 8-byte length and the JSON header, 12 digits. */
const a1111ShortHash = (bytes: Uint8Array) => sha256(bytes.subarray(8 + Number(Buffer.from(bytes).readBigUInt64LE(0)))).slice(0, 12);
const add = (input: Record<string, unknown>) => server().graphql<{ addLora: unknown }>(ADD, { key: server().admin.key, variables: { input } });

type FinishedView = GenerationView & { warnings: { code: string; message: string }[]; timings: { loadMs: number | null; loraMs: number | null } | null };

async function finished(key: string, id: string): Promise<FinishedView> {
  const query = `query ($id: ID!) { generation(id: $id) { id status errorCode error finalPrompt refunded images { url } warnings { code message } timings { loadMs loraMs } } }`;
  let generation: FinishedView | undefined;
  await expect
    .poll(
      async () => {
        generation = (await server().graphql<{ generation: FinishedView }>(query, { key, variables: { id } })).data!.generation;
        return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(generation.status);
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  return generation!;
}

describe('LoRAs', () => {
  beforeAll(async () => {
    expect((await add({ name: 'tiny-sd15-demo', file: 'tiny-sd15-demo.safetensors', families: ['SD15'], triggerWords: ['demo style'], defaultWeight: 0.6 })).errors).toBeUndefined();
    expect((await add({ name: 'tiny-sdxl-demo', file: 'tiny-sdxl-demo.safetensors', families: ['SDXL'] })).errors).toBeUndefined();
  });

  it('lists the catalog by family; only admins add, only .safetensors files that are there', async () => {
    const listed = await server().graphql<{ loras: { name: string }[] }>('{ loras(family: SD15) { name families triggerWords defaultWeight } }');
    expect(listed.data!.loras).toEqual([{ name: 'tiny-sd15-demo', families: ['SD15'], triggerWords: ['demo style'], defaultWeight: 0.6 }]);
    const hashes = await server().graphql<{ loras: { shortHash: string; sha256: string }[] }>('{ loras(family: SD15) { shortHash sha256 } }');
    expect(hashes.data!.loras[0].shortHash).toMatch(/^[0-9a-f]{12}$/);
    expect(hashes.data!.loras[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const { key } = await server().createUser('not-admin');
    const denied = await server().graphql(ADD, { key, variables: { input: { name: 'x', file: 'tiny-sd15-demo.safetensors', families: ['SD15'] } } });
    expect(denied.errors![0].extensions!.code).toBe('FORBIDDEN');
    const pickle = await add({ name: 'pickled', file: 'style.ckpt', families: ['SD15'] });
    expect(pickle.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/only \.safetensors/) });
    const missing = await add({ name: 'absent', file: 'absent.safetensors', families: ['SD15'] });
    expect(missing.errors![0].message).toMatch(/LORAS_DIR has no file "absent.safetensors"/);
    // Keys named after no module of a Stable Diffusion model: it would change nothing.
    await writeFile(path.join(LORAS_DIR, 'elsewhere.safetensors'), encodeSafetensors({ 'lora_unet_my_block_proj.lora_down.weight': { shape: [1, 2], values: Float32Array.of(1, 2) }, 'lora_unet_my_block_proj.lora_up.weight': { shape: [2, 1], values: Float32Array.of(1, 2) } }));
    const unknown = await add({ name: 'elsewhere', file: 'elsewhere.safetensors', families: ['SD15'] });
    expect(unknown.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/none of its modules is named as a Stable Diffusion UNet or text encoder module.*lora_unet_my_block_proj/) });
    // An SDXL LoRA (its te1/te2 text-encoder parts say so) declared for SD 1.5; and Flux, which takes none yet.
    const misfit = await add({ name: 'misfit', file: 'tiny-sdxl-demo.safetensors', families: ['SD15'] });
    expect(misfit.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/trained for SDXL, ILLUSTRIOUS, PONY models .*not SD15/) });
    const flux = await add({ name: 'flux-style', file: 'tiny-sd15-demo.safetensors', families: ['FLUX'] });
    expect(flux.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/not apply LoRAs to Flux/) });
    const all = await server().graphql<{ loras: { name: string }[] }>('{ loras { name } }');
    expect(all.data!.loras.map((lora) => lora.name)).toEqual(['tiny-sd15-demo', 'tiny-sdxl-demo']);
  });

  it('a prompt with <lora:…> on a tiny model succeeds, for one token, and its PNG reads back with the LoRA', async () => {
    const { key } = await server().createUser('lora-user');
    const before = await balanceOf(server(), key);
    const response = await generate(server(), key, { modelId: 'tiny-sd15', enhancePrompt: false, prompt: 'a harbour, demo style, <lora:tiny-sd15-demo:0.7>', width: 64, height: 64, steps: 3, seed: 5 });
    expect(response.errors).toBeUndefined();
    const done = await finished(key, response.data!.generateImage.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', errorCode: null });
    expect(before - (await balanceOf(server(), key))).toBe(1);
    const png = Buffer.from(await (await fetch(done.images[0].url, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer());
    const parameters = readParameters(png)!;
    expect(parameters.prompt).toBe('a harbour, demo style, <lora:tiny-sd15-demo:0.7>');
    expect(parameters.loraHashes).toEqual([{ name: 'tiny-sd15-demo', hash: expect.stringMatching(/^[0-9a-f]{12}$/) }]);
  });

  it('the loras field adds the tag to the prompt, with the LoRA\'s default weight', async () => {
    const { key } = await server().createUser('field-user');
    const response = await generate(server(), key, { modelId: 'tiny-sd15', enhancePrompt: false, prompt: 'a harbour', loras: [{ name: 'tiny-sd15-demo' }], width: 64, height: 64, steps: 2 });
    expect(response.errors).toBeUndefined();
    expect(response.data!.generateImage.finalPrompt).toBe('a harbour <lora:tiny-sd15-demo:0.6>');
    expect(await finished(key, response.data!.generateImage.id)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('refuses unknown LoRAs and LoRAs of another family, charging nothing', async () => {
    const { key } = await server().createUser('wrong-user');
    const before = await balanceOf(server(), key);
    const response = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'x <lora:nope:1> <lora:tiny-sdxl-demo:1> <lora:tiny-sd15-demo:1>', loras: [{ name: 'tiny-sd15-demo', weight: 0.5 }] });
    expect(response.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(response.errors![0].extensions!.invalidFields).toEqual([
      { field: 'prompt', message: 'no LoRA "nope" in the catalog (the loras query lists them)' },
      { field: 'prompt', message: 'the LoRA "tiny-sdxl-demo" is for SDXL models, and Tiny SD 1.5 (demo) is SD15' },
      { field: 'loras', message: 'the LoRA "tiny-sd15-demo" is named twice; give it once, with one weight' },
    ]);
    expect(await balanceOf(server(), key)).toBe(before);
  });

  it('analyzePrompt lists the LoRAs and warns about unknown names, other families, missing trigger words and negatives', async () => {
    const { key } = await server().createUser('analyst');
    const query = `query ($prompt: String!, $negative: String) { analyzePrompt(modelId: "tiny-sd15", prompt: $prompt, negativePrompt: $negative) {
      loras { name weight unetWeight known triggerWords }
      prompt { tokenCount segments { text } warnings { code start end } }
      negativePrompt { warnings { code } } } }`;
    const prompt = 'a harbour, <lora:tiny-sd15-demo:0.5> <lora:nope> <lora:tiny-sdxl-demo:1:0.5>';
    const response = await server().graphql<{ analyzePrompt: any }>(query, { key, variables: { prompt, negative: 'blurry <lora:tiny-sd15-demo:1>' } });
    expect(response.errors).toBeUndefined();
    const analysis = response.data!.analyzePrompt;
    expect(analysis.loras).toEqual([
      { name: 'tiny-sd15-demo', weight: 0.5, unetWeight: null, known: true, triggerWords: ['demo style'] },
      { name: 'nope', weight: null, unetWeight: null, known: false, triggerWords: [] },
      { name: 'tiny-sdxl-demo', weight: 1, unetWeight: 0.5, known: true, triggerWords: [] },
    ]);
    const codes = analysis.prompt.warnings.map((w: { code: string; start: number }) => [w.code, prompt.slice(w.start, w.start + 6)]);
    expect(codes).toEqual([
      ['LORA_TRIGGER_MISSING', '<lora:'],
      ['LORA_UNKNOWN', '<lora:'],
      ['LORA_WRONG_FAMILY', '<lora:'],
    ]);
    // The tags are not text: the segments and the token count are those of "a harbour, ".
    expect(analysis.prompt.segments.map((s: { text: string }) => s.text).join('')).not.toContain('lora');
    expect(analysis.negativePrompt.warnings.map((w: { code: string }) => w.code)).toContain('LORA_IN_NEGATIVE');
  });
});

describe('LoRAs: partial matches, removal, replaced files', () => {
  const tinyPrompt = (name: string) => ({ modelId: 'tiny-sd15', enhancePrompt: false, prompt: `a harbour <lora:${name}:0.8>`, width: 64, height: 64, steps: 2, seed: 3 });
  /** Takes the GPU's one slot with a job that runs on, as far as the dispatcher knows. */
  const holdTheGpu = () =>
    chargedGeneration(server().server.services.tokens, { userId: 'someone-else', plan: 'FREE' }, {
      status: 'RUNNING',
      attempt: 1,
      jobSecret: 'x'.repeat(32),
      leaseExpiresAt: new Date(Date.now() + 600_000),
      model: TINY_SD15,
    });
  const freeTheGpu = async (holder: Awaited<ReturnType<typeof holdTheGpu>>) => {
    await GenerationModel.updateOne({ _id: holder._id }, { $set: { status: 'SUCCEEDED' }, $unset: { leaseExpiresAt: 1 } });
    server().server.services.dispatcher.notify();
  };

  it("keys that match nothing in the model come back as the generation's warnings, with the switch time", async () => {
    const tensors = await buildTinyLora(sd15Dir, { kind: 'lora', rank: 2, seed: 11 });
    // Named like SD 1.5 modules, but the tiny model has neither (it is smaller than the real one).
    for (const module of ['lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn1_to_q', 'lora_te_text_model_encoder_layers_11_self_attn_q_proj']) {
      tensors[`${module}.lora_down.weight`] = { shape: [2, 8], values: new Float32Array(16).fill(0.1) };
      tensors[`${module}.lora_up.weight`] = { shape: [8, 2], values: new Float32Array(16).fill(0.1) };
    }
    await writeFile(path.join(LORAS_DIR, 'partial.safetensors'), encodeSafetensors(tensors));
    expect((await add({ name: 'partial', file: 'partial.safetensors', families: ['SD15'] })).errors).toBeUndefined();

    const { key } = await server().createUser('partial-user');
    const response = await generate(server(), key, tinyPrompt('partial'));
    expect(response.errors).toBeUndefined();
    const done = await finished(key, response.data!.generateImage.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(done.warnings).toHaveLength(1);
    expect(done.warnings[0].code).toBe('LORA_KEYS_UNMATCHED');
    expect(done.warnings[0].message).toMatch(/^2 keys of the LoRA "partial" matched nothing in this model and changed nothing \(\d+ layers applied\): /);
    expect(done.warnings[0].message).toContain('lora_te_text_model_encoder_layers_11_self_attn_q_proj (no such layer in text_encoder/model.onnx)');
    expect(done.warnings[0].message).toContain('lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn1_to_q (no such layer in unet/model.onnx)');
    expect(done.timings!.loraMs).toBeGreaterThan(0);
    expect(done.timings!.loraMs).toBeLessThanOrEqual(done.timings!.loadMs!);

    // A LoRA that matches fully: no warnings.
    const clean = await generate(server(), key, tinyPrompt('tiny-sd15-demo'));
    expect(await finished(key, clean.data!.generateImage.id)).toMatchObject({ status: 'SUCCEEDED', warnings: [] });
  });

  it('an entry added before the catalog kept hashes gets them from its file when first used', async () => {
    await LoraModel.collection.insertOne({ name: 'old-entry', file: 'tiny-sd15-demo.safetensors', families: ['SD15'], triggerWords: [], defaultWeight: 1, description: '', source: null });
    const { key } = await server().createUser('old-entry-user');
    const done = await finished(key, (await generate(server(), key, tinyPrompt('old-entry'))).data!.generateImage.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    const demo = await readFile(path.join(LORAS_DIR, 'tiny-sd15-demo.safetensors'));
    expect(await LoraModel.findOne({ name: 'old-entry' }).lean()).toMatchObject({ sha256: sha256(demo), shortHash: a1111ShortHash(demo) });
  });

  it('an entry without a hash whose file is gone by dispatch fails as LORA_INVALID, saying why, and is refunded', async () => {
    await writeFile(path.join(LORAS_DIR, 'vanishing.safetensors'), encodeSafetensors(await buildTinyLora(sd15Dir, { kind: 'lora', rank: 2, seed: 13 })));
    await LoraModel.collection.insertOne({ name: 'vanishing', file: 'vanishing.safetensors', families: ['SD15'], triggerWords: [], defaultWeight: 1, description: '', source: null });
    const { key } = await server().createUser('vanishing-user');
    const before = await balanceOf(server(), key);
    // The GPU's one slot is taken, so the generation waits QUEUED while its file goes away.
    const holder = await holdTheGpu();
    const queued = await generate(server(), key, tinyPrompt('vanishing'));
    expect(queued.errors).toBeUndefined();
    await rm(path.join(LORAS_DIR, 'vanishing.safetensors'));
    await freeTheGpu(holder);
    const done = await finished(key, queued.data!.generateImage.id);
    expect(done).toMatchObject({ status: 'FAILED', errorCode: 'LORA_INVALID', refunded: true });
    expect(done.error).toMatch(/^The LoRA "vanishing" \(cannot read the LoRA file "vanishing.safetensors": ENOENT.*\) cannot be used\. Your tokens were refunded\.$/);
    expect(await balanceOf(server(), key)).toBe(before);
  });

  it('removeLora: only admins; new generations refuse it, a queued one fails when dispatched and is refunded', async () => {
    await writeFile(path.join(LORAS_DIR, 'retired.safetensors'), encodeSafetensors(await buildTinyLora(sd15Dir, { kind: 'lora', rank: 2, seed: 12 })));
    expect((await add({ name: 'retired', file: 'retired.safetensors', families: ['SD15'] })).errors).toBeUndefined();
    const { key } = await server().createUser('queued-user');
    const denied = await server().graphql(REMOVE, { key, variables: { name: 'retired' } });
    expect(denied.errors![0].extensions!.code).toBe('FORBIDDEN');

    // The GPU's one slot is taken, so the next generation waits QUEUED.
    const holder = await holdTheGpu();
    const before = await balanceOf(server(), key);
    const queued = await generate(server(), key, tinyPrompt('retired'));
    expect(queued.errors).toBeUndefined();
    const id = queued.data!.generateImage.id;
    expect(await balanceOf(server(), key)).toBe(before - 1);

    expect((await server().graphql(REMOVE, { key: server().admin.key, variables: { name: 'retired' } })).errors).toBeUndefined();
    const listed = await server().graphql<{ loras: { name: string }[] }>('{ loras(family: SD15) { name } }');
    expect(listed.data!.loras.map((lora) => lora.name)).not.toContain('retired');
    const refused = await generate(server(), key, tinyPrompt('retired'));
    expect(refused.errors![0].extensions!.invalidFields).toEqual([{ field: 'prompt', message: 'no LoRA "retired" in the catalog (the loras query lists them)' }]);
    const again = await server().graphql(REMOVE, { key: server().admin.key, variables: { name: 'retired' } });
    expect(again.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, message: 'No LoRA "retired" in the catalog.' });

    // The slot frees up: the queued generation is dispatched, and ends there.
    await freeTheGpu(holder);
    expect(await finished(key, id)).toMatchObject({
      status: 'FAILED',
      errorCode: 'LORA_REMOVED',
      error: 'The LoRA "retired" was removed from the catalog after this generation was queued. Your tokens were refunded.',
      refunded: true,
    });
    expect(await balanceOf(server(), key)).toBe(before);
  });

  it('a file replaced under the same name is used once the catalog has its hash, never the cached merge of the old one', async () => {
    const first = encodeSafetensors(await buildTinyLora(sd15Dir, { kind: 'lora', rank: 2, seed: 21 }));
    const second = encodeSafetensors(await buildTinyLora(sd15Dir, { kind: 'lora', rank: 2, seed: 22 }));
    const file = path.join(LORAS_DIR, 'evolving.safetensors');
    await writeFile(file, first);
    expect((await add({ name: 'evolving', file: 'evolving.safetensors', families: ['SD15'] })).data).toMatchObject({ addLora: { shortHash: a1111ShortHash(first), sha256: sha256(first) } });
    const { key } = await server().createUser('evolving-user');
    const loraHashesOf = async (id: string) => {
      const done = await finished(key, id);
      expect(done.status).toBe('SUCCEEDED');
      const png = Buffer.from(await (await fetch(done.images[0].url, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer());
      return readParameters(png)!.loraHashes;
    };
    expect(await loraHashesOf((await generate(server(), key, tinyPrompt('evolving'))).data!.generateImage.id)).toEqual([{ name: 'evolving', hash: a1111ShortHash(first) }]);

    // Replaced on disk, the catalog not told: the function refuses the file rather than guess.
    await writeFile(file, second);
    const before = await balanceOf(server(), key);
    const stale = await finished(key, (await generate(server(), key, tinyPrompt('evolving'))).data!.generateImage.id);
    expect(stale).toMatchObject({ status: 'FAILED', errorCode: 'LORA_INVALID', refunded: true });
    expect(stale.error).toMatch(/the file "evolving.safetensors" of the LoRA "evolving" on the GPU function is not the one in the catalog/);
    expect(await balanceOf(server(), key)).toBe(before);

    // Added again: the same name and path, a new cache key; the image is made with the new file.
    expect((await add({ name: 'evolving', file: 'evolving.safetensors', families: ['SD15'], replace: true })).data).toMatchObject({ addLora: { sha256: sha256(second) } });
    expect(await loraHashesOf((await generate(server(), key, tinyPrompt('evolving'))).data!.generateImage.id)).toEqual([{ name: 'evolving', hash: a1111ShortHash(second) }]);
  });
});
