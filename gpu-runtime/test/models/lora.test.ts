import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels } from '../../src/tiny-models/index.js';
import { buildTinyLora, encodeSafetensors, loraTargets, type SafetensorsTensor, type TinyLoraOptions } from '../../src/tiny-models/lora.js';
import { loadModel, ModelLoadError, type LoadedModel } from '../../src/models/index.js';
import { LoraCache, LoraFileError, parseSafetensors, PartWeights, sgmCandidates, type LoraChoice } from '../../src/models/lora/index.js';
import { runMerge } from '../../src/models/lora/merge-graph.js';
import { generate, type GenerationRequest } from '../../src/pipeline/generate.js';
import { readParameters } from '../../src/pipeline/png.js';
import { pixelsOf } from '../pipeline/fixtures.js';

let root: string;
let dirs: { sd15: string; sdxl: string };
const cache = new LoraCache();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-lora-'));
  const models = await makeTinyModels(root);
  dirs = { sd15: models['tiny-sd15'], sdxl: models['tiny-sdxl'] };
});
afterAll(async () => {
  await cache.clear();
  await rm(root, { recursive: true, force: true });
});

let fileCount = 0;
async function writeLora(tensors: Record<string, SafetensorsTensor>, float16 = false): Promise<string> {
  const file = path.join(root, `lora-${fileCount++}.safetensors`);
  await writeFile(file, encodeSafetensors(tensors, { float16 }));
  return file;
}

async function tinyLora(kind: keyof typeof dirs, options: TinyLoraOptions): Promise<string> {
  return writeLora(await buildTinyLora(dirs[kind], options), options.float16);
}

const choice = (file: string, weight = 1, name = path.basename(file, '.safetensors')): LoraChoice => ({ name, file, weight });

/** Every output the LoRA can move: each text encoder's last hidden state and the UNet's prediction. */
async function probe(model: LoadedModel): Promise<Float32Array> {
  const ids = Int32Array.from({ length: 77 }, (_, i) => (i < 6 ? 40 + i * 3 : 0));
  const parts: Float32Array[] = [];
  for (const { encoder } of model.textEncoders) parts.push((await encoder.encode(ids, 1, { layerFromEnd: 1, finalLayerNorm: true })).hidden);
  const width = model.unet.crossAttentionDim!;
  const tensor = (dims: number[], f: (i: number) => number) => ({ data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), dims });
  const conditioning = model.unet.prepareConditioning({
    encoderHiddenStates: tensor([1, 77, width], (i) => Math.cos(i / 7)),
    ...(model.unet.takesSizeConditioning ? { textEmbeds: tensor([1, 40], (i) => Math.sin(i)), timeIds: tensor([1, 6], () => 1024) } : {}),
  });
  parts.push(await model.unet.run({ sample: tensor([1, 4, 8, 8], (i) => Math.sin(i / 3)), timestep: 500, conditioning }));
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

const maxDifference = (a: Float32Array, b: Float32Array) => a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);

/** The same change written as full `diff` tensors, computed in float64 in JavaScript: the reference. */
function asDiff(tensors: Record<string, SafetensorsTensor>, scale: (prefix: string, rank: number) => number): Record<string, SafetensorsTensor> {
  const diffs: Record<string, SafetensorsTensor> = {};
  for (const name of Object.keys(tensors)) {
    if (!name.endsWith('.lora_down.weight')) continue;
    const prefix = name.slice(0, -'.lora_down.weight'.length);
    const down = tensors[name];
    const up = tensors[`${prefix}.lora_up.weight`];
    const [rank, inFeatures] = down.shape;
    const inner = down.values.length / rank;
    const out = up.shape[0];
    const values = new Float32Array(out * inner);
    for (let o = 0; o < out; o++)
      for (let j = 0; j < inner; j++) {
        let sum = 0;
        for (let r = 0; r < rank; r++) sum += up.values[o * rank + r] * down.values[r * inner + j];
        values[o * inner + j] = sum * scale(prefix, rank);
      }
    diffs[`${prefix}.diff`] = { shape: [out, inFeatures, ...down.shape.slice(2)], values };
  }
  return diffs;
}

describe('key mapping', () => {
  it('indexes the tiny models under the export\'s module names, MatMul weights stored transposed', async () => {
    const sd15 = await loraTargets(dirs.sd15);
    const modules = sd15.map(({ target }) => target.module);
    expect(modules).toContain('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q');
    expect(modules).toContain('up_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0');
    expect(modules).toContain('text_model_encoder_layers_11_mlp_fc1');
    const toK = sd15.find(({ target }) => target.module.endsWith('attn2_to_k'))!.target;
    expect(toK.transposed).toBe(true);
    expect(toK.initializer.name).toMatch(/^onnx::MatMul_/);
    expect(toK.initializer.dims).toEqual([32, 8]); // [in, out]
    const conv = sd15.find(({ target }) => target.module === 'down_blocks_0_resnets_0_conv1')!.target;
    expect(conv).toMatchObject({ transposed: false, initializer: { dims: [4, 8, 3, 3] } });
  });

  it('translates SGM block names to diffusers ones, trying attention before upsampler', () => {
    expect(sgmCandidates('input_blocks_4_1_transformer_blocks_0_attn1_to_q')).toEqual(['down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q']);
    expect(sgmCandidates('input_blocks_1_0_in_layers_2')).toEqual(['down_blocks_0_resnets_0_conv1']);
    expect(sgmCandidates('input_blocks_3_0_op')).toEqual(['down_blocks_0_downsamplers_0_conv']);
    expect(sgmCandidates('middle_block_1_proj_in')).toEqual(['mid_block_attentions_0_proj_in']);
    expect(sgmCandidates('middle_block_2_out_layers_3')).toEqual(['mid_block_resnets_1_conv2']);
    expect(sgmCandidates('output_blocks_1_1_transformer_blocks_0_attn2_to_k')[0]).toBe('up_blocks_0_attentions_1_transformer_blocks_0_attn2_to_k');
    expect(sgmCandidates('output_blocks_2_1_conv')).toEqual(['up_blocks_0_upsamplers_0_conv']);
    expect(sgmCandidates('label_emb_0_2')).toEqual(['add_embedding_linear_2']);
  });

  for (const [kind, naming] of [
    ['sd15', 'kohya'],
    ['sd15', 'peft'],
    ['sdxl', 'kohya'],
    ['sdxl', 'sgm'],
    ['sdxl', 'peft'],
  ] as const) {
    it(`matches every module of a tiny ${naming} LoRA for ${kind}, text encoders included`, async () => {
      const tensors = await buildTinyLora(dirs[kind], { kind: 'lora', naming });
      const file = await writeLora(tensors);
      const expected = (await loraTargets(dirs[kind])).length;
      const { loras, model, release } = await cache.acquire(dirs[kind], [choice(file)]);
      expect(loras[0].unmatched).toEqual([]);
      expect(loras[0].applied).toBe(expected);
      const base = await loadModel(dirs[kind]);
      model.textEncoders.forEach((stage, i) => expect(stage.encoder).not.toBe(base.textEncoders[i].encoder));
      expect(model.unet).not.toBe(base.unet);
      expect(model.vaeDecoder).toBe(base.vaeDecoder);
      release();
    });
  }
});

describe('merging', () => {
  it('adds the transposed delta to a MatMul weight and keeps the dtype (fp16 in, fp16 out)', async () => {
    const base = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [3, 2]); // [in 3, out 2]
    const diff = { values: Float32Array.of(10, 20, 30, 40, 50, 60), dims: [2, 3] as [number, number] }; // [out 2, in 3]
    const [merged] = await runMerge([{ base, deltaDims: [2, 3], transposed: true, deltas: [{ kind: 'diff', scale: 0.5, diff }] }]);
    // W + 0.5·diffᵀ, row by row: [1+5, 2+20], [3+10, 4+25], [5+15, 6+30]
    expect(Array.from(new Float32Array(merged.buffer, merged.byteOffset, 6))).toEqual([6, 22, 13, 29, 20, 36]);
  });

  for (const kind of ['sd15', 'sdxl'] as const) {
    it(`${kind}: up·down scaled by weight·alpha/rank equals the fp32 reference diff within fp16 tolerance`, async () => {
      const tensors = await buildTinyLora(dirs[kind], { kind: 'lora', rank: 4, alpha: 2, std: 0.25 });
      const lowRank = await writeLora(tensors);
      const reference = await writeLora(asDiff(tensors, (_, rank) => (0.8 * 2) / rank));
      const [a, b] = [await cache.acquire(dirs[kind], [choice(lowRank, 0.8)]), await cache.acquire(dirs[kind], [choice(reference, 1)])];
      const base = await probe(await loadModel(dirs[kind]));
      const [merged, expected] = [await probe(a.model), await probe(b.model)];
      expect(maxDifference(merged, base)).toBeGreaterThan(0.01);
      expect(maxDifference(merged, expected)).toBeLessThan(kind === 'sdxl' ? 2e-2 : 1e-4);
      a.release();
      b.release();
    });
  }

  it('weight 0 gives the base model\'s output exactly', async () => {
    const file = await tinyLora('sdxl', { kind: 'lora' });
    const { model, release } = await cache.acquire(dirs.sdxl, [choice(file, 0)]);
    expect(await probe(model)).toEqual(await probe(await loadModel(dirs.sdxl)));
    release();
  });

  it('two LoRAs add: A + B equals one file holding the sum of their diffs', async () => {
    const [a, b] = [await buildTinyLora(dirs.sd15, { kind: 'diff', seed: 1, std: 0.1 }), await buildTinyLora(dirs.sd15, { kind: 'diff', seed: 2, std: 0.1 })];
    const sum = Object.fromEntries(Object.entries(a).map(([key, t]) => [key, { shape: t.shape, values: t.values.map((v, i) => 0.5 * v + 1.5 * b[key].values[i]) }]));
    const [fileA, fileB, fileSum] = [await writeLora(a), await writeLora(b), await writeLora(sum)];
    const both = await cache.acquire(dirs.sd15, [choice(fileA, 0.5), choice(fileB, 1.5)]);
    const single = await cache.acquire(dirs.sd15, [choice(fileSum, 1)]);
    expect(maxDifference(await probe(both.model), await probe(single.model))).toBeLessThan(1e-4);
    both.release();
    single.release();
  });

  for (const kind of ['loha', 'lokr'] as const) {
    it(`${kind}: every layer, 3×3 convolution included, changes the output and stays finite`, async () => {
      const file = await tinyLora('sd15', { kind, std: 0.2 });
      const { model, loras, release } = await cache.acquire(dirs.sd15, [choice(file)]);
      expect(loras[0].unmatched).toEqual([]);
      expect(loras[0].applied).toBe((await loraTargets(dirs.sd15)).length);
      const out = await probe(model);
      expect(out.every(Number.isFinite)).toBe(true);
      expect(maxDifference(out, await probe(await loadModel(dirs.sd15)))).toBeGreaterThan(1e-3);
      release();
    });
  }

  it('LoCon on a 3×3 convolution equals its reference diff', async () => {
    const convOnly = (module: string) => module === 'down_blocks_0_resnets_0_conv1';
    const tensors = await buildTinyLora(dirs.sd15, { kind: 'lora', rank: 2, filter: convOnly });
    expect(tensors['lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight'].shape).toEqual([2, 8, 3, 3]);
    const [lowRank, reference] = [await writeLora(tensors), await writeLora(asDiff(tensors, () => 1))];
    const a = await cache.acquire(dirs.sd15, [choice(lowRank)]);
    const b = await cache.acquire(dirs.sd15, [choice(reference)]);
    expect(maxDifference(await probe(a.model), await probe(b.model))).toBeLessThan(1e-4);
    expect(a.model.textEncoders[0]).toBe((await loadModel(dirs.sd15)).textEncoders[0]); // untouched part: the base session
    a.release();
    b.release();
  });
});

describe('reports and errors', () => {
  it('reports keys that match nothing instead of dropping them', async () => {
    const tensors = await buildTinyLora(dirs.sd15, { kind: 'lora', filter: (m) => m.endsWith('to_q') });
    tensors['lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight'] = { shape: [4, 8], values: new Float32Array(32) };
    tensors['lora_unet_down_blocks_3_attentions_0_proj_in.lora_up.weight'] = { shape: [8, 4], values: new Float32Array(32) };
    tensors['lora_te2_text_model_encoder_layers_0_mlp_fc1.diff'] = { shape: [32, 32], values: new Float32Array(1024) };
    tensors['some_trainer_state'] = { shape: [1], values: new Float32Array(1) };
    const { loras, release } = await cache.acquire(dirs.sd15, [choice(await writeLora(tensors))]);
    expect(loras[0].applied).toBe(3);
    expect([...loras[0].unmatched].sort()).toEqual([
      'lora_te2_text_model_encoder_layers_0_mlp_fc1 (this model has no text_encoder_2)',
      'lora_unet_down_blocks_3_attentions_0_proj_in (no such layer in unet/model.onnx)',
      'some_trainer_state (not a LoRA weight Easel reads)',
    ]);
    release();
  });

  it('refuses a LoRA made for another model, naming it', async () => {
    const file = await tinyLora('sdxl', { kind: 'lora', filter: (m, part) => part === 'unet' && m.startsWith('down_blocks_1') });
    const error = await cache.acquire(dirs.sd15, [choice(file, 1, 'xl-style')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoraFileError);
    expect((error as Error).message).toMatch(/"xl-style".*matches no layer/);
  });

  it('refuses pickled checkpoints, by name and by content', () => {
    expect(() => parseSafetensors('style.ckpt', new Uint8Array(16))).toThrow(/pickled checkpoint.*only \.safetensors/);
    expect(() => parseSafetensors('style.safetensors', Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0))).toThrow(/holds a pickle/);
  });

  it('fails with a clear error when the external data is missing', async () => {
    const copy = path.join(root, 'no-data');
    await cp(dirs.sd15, copy, { recursive: true });
    await rm(path.join(copy, 'unet/model.onnx_data'));
    const error = await PartWeights.read(path.join(copy, 'unet/model.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error).toMatchObject({ code: 'MODEL_INCOMPLETE', message: expect.stringMatching(/keeps its weights in model\.onnx_data, which cannot be read/) });
  });

  it('cuts the external data into shards at tensor boundaries and opens the same model from them', async () => {
    const file = path.join(dirs.sd15, 'unet/model.onnx');
    const sharded = await PartWeights.read(file, 1); // one tensor per shard
    const whole = await PartWeights.read(file);
    expect(sharded.bytes).toBe(whole.bytes);
    const { session } = await sharded.open(new Map(), (model, externalData) => {
      expect(externalData.length).toBeGreaterThan(1);
      return ort.InferenceSession.create(model, { externalData });
    });
    expect(session.inputNames).toContain('sample');
    await session.release();
  });
});

describe('cache', () => {
  it('a hit returns the same sessions at no cost; another weight is another set', async () => {
    const local = new LoraCache();
    const file = await tinyLora('sd15', { kind: 'lora' });
    const first = await local.acquire(dirs.sd15, [choice(file, 0.7)]);
    const again = await local.acquire(dirs.sd15, [choice(file, 0.7)]);
    expect(first.cacheHit).toBe(false);
    expect(first.switchMs).toBeGreaterThan(0);
    expect(again).toMatchObject({ cacheHit: true, switchMs: 0 });
    expect(again.model).toBe(first.model);
    const other = await local.acquire(dirs.sd15, [choice(file, 0.6)]);
    expect(other.model).not.toBe(first.model);
    expect(local.size).toBe(2);
    [first, again, other].forEach((lease) => lease.release());
    await local.clear();
  });

  it('keeps the sets under the budget, releasing the least recently used one that is not in use', async () => {
    const local = new LoraCache(1); // one byte: every finished set beyond the one in use goes
    const [a, b] = [await tinyLora('sd15', { kind: 'lora', seed: 11 }), await tinyLora('sd15', { kind: 'lora', seed: 12 })];
    const first = await local.acquire(dirs.sd15, [choice(a)]);
    const second = await local.acquire(dirs.sd15, [choice(b)]);
    expect(local.size).toBe(2); // the first is still in use
    first.release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(local.size).toBe(1);
    expect(await probe(second.model)).toHaveLength((await probe(await loadModel(dirs.sd15))).length);
    second.release();
    await local.clear();
  });
});

describe('generate with LoRAs', () => {
  const request = (overrides: Partial<GenerationRequest>): GenerationRequest => ({
    modelDir: dirs.sdxl,
    model: { id: 'tiny-sdxl', name: 'Tiny SDXL', family: 'SDXL', path: 'tiny-sdxl' },
    prompt: 'a lighthouse, <lora:tiny style:0.8>',
    negativePrompt: '',
    width: 64,
    height: 64,
    steps: 2,
    cfgScale: 5,
    sampler: 'euler',
    schedule: 'normal',
    seed: 3,
    previewEvery: 0,
    ...overrides,
  });

  it('merges the LoRA, keeps the tag out of the text encoders and records it in the infotext', async () => {
    const file = await tinyLora('sdxl', { kind: 'lora', naming: 'sgm' });
    const loraFiles = [{ name: 'tiny style', file }];
    const [withLora] = await generate(request({ loras: [{ name: 'tiny style', weight: 0.8 }], loraFiles }));
    const [plain] = await generate(request({ prompt: 'a lighthouse, ' }));
    const [tagOnly] = await generate(request({}));
    expect(withLora.png.equals(plain.png)).toBe(false);
    // The tag alone changes nothing but the infotext: the encoders never see it.
    expect(await pixelsOf(tagOnly.png)).toEqual(await pixelsOf(plain.png));
    const parameters = readParameters(withLora.png)!;
    expect(parameters.prompt).toBe('a lighthouse, <lora:tiny style:0.8>');
    expect(parameters.fields['Lora hashes']).toMatch(/^tiny style: [0-9a-f]{12}$/);
    expect(parameters.loraHashes).toEqual([{ name: 'tiny style', hash: parseSafetensors(file, await readFile(file)).shortHash }]);
  });

  it('refuses a LoRA the request gives no file for', async () => {
    await expect(generate(request({ loras: [{ name: 'nowhere', weight: 1 }] }))).rejects.toThrow(/the LoRA "nowhere" has no file/);
  });
});
