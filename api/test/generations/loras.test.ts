import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readParameters } from '@easel/gpu-runtime/pipeline';
import { makeTinyModels, writeDemoLoras } from '@easel/gpu-runtime/tiny-models';
import { useTestServer } from '../support/server.js';
import { balanceOf, generate, type GenerationView } from './support.js';

/*
 * LoRAs over the real path: the admin adds them over GraphQL, users name them in prompts or in
 * `loras`, the GPU function (local, in this process) merges them into the tiny models.
 */

// Its own folder: other test files (and other checkouts on this machine) rewrite the shared one.
const TINY_MODELS = path.join(os.tmpdir(), `easel-tiny-models-loras-${process.pid}`);
const LORAS_DIR = path.join(os.tmpdir(), `easel-loras-${process.pid}`);
beforeAll(async () => {
  const models = await makeTinyModels(TINY_MODELS);
  await writeDemoLoras(models, LORAS_DIR);
  await writeFile(path.join(LORAS_DIR, 'style.ckpt'), 'not allowed');
});
const server = useTestServer({ MODELS_DIR: TINY_MODELS, LORAS_DIR });

const ADD = `mutation ($input: AddLoraInput!) { addLora(input: $input) { name families triggerWords defaultWeight } }`;
const add = (input: Record<string, unknown>) => server().graphql<{ addLora: unknown }>(ADD, { key: server().admin.key, variables: { input } });

async function finished(key: string, id: string): Promise<GenerationView> {
  const query = `query ($id: ID!) { generation(id: $id) { id status errorCode error finalPrompt images { url } } }`;
  let generation: GenerationView | undefined;
  await expect
    .poll(
      async () => {
        generation = (await server().graphql<{ generation: GenerationView }>(query, { key, variables: { id } })).data!.generation;
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
    const { key } = await server().createUser('not-admin');
    const denied = await server().graphql(ADD, { key, variables: { input: { name: 'x', file: 'tiny-sd15-demo.safetensors', families: ['SD15'] } } });
    expect(denied.errors![0].extensions!.code).toBe('FORBIDDEN');
    const pickle = await add({ name: 'pickled', file: 'style.ckpt', families: ['SD15'] });
    expect(pickle.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/only \.safetensors/) });
    const missing = await add({ name: 'absent', file: 'absent.safetensors', families: ['SD15'] });
    expect(missing.errors![0].message).toMatch(/LORAS_DIR has no file "absent.safetensors"/);
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
