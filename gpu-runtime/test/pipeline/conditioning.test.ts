import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels } from '../../src/tiny-models/index.js';
import { float16ToFloat32, loadModel, type LoadedModel } from '../../src/models/index.js';
import { applyLayerNorm, fitLayerNorm } from '../../src/models/layer-norm.js';
import { encodePrompts, unetConditioningInput, type PromptEncodingRequest } from '../../src/pipeline/conditioning.js';
import { InvalidRequestError } from '../../src/pipeline/errors.js';

let root: string;
let sd15: LoadedModel;
let sdxl: LoadedModel;
const raw: Record<string, ort.InferenceSession> = {};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-conditioning-'));
  const models = await makeTinyModels(root);
  [sd15, sdxl] = await Promise.all([loadModel(models['tiny-sd15']), loadModel(models['tiny-sdxl'])]);
  for (const [name, file] of [
    ['sd15', 'tiny-sd15/text_encoder/model.onnx'],
    ['sdxl1', 'tiny-sdxl/text_encoder/model.onnx'],
    ['sdxl2', 'tiny-sdxl/text_encoder_2/model.onnx'],
  ]) {
    raw[name] = await ort.InferenceSession.create(path.join(root, file));
  }
});
afterAll(() => rm(root, { recursive: true, force: true }));

const request = (overrides: Partial<PromptEncodingRequest> = {}): PromptEncodingRequest => ({
  prompt: 'a photo of a cat',
  negativePrompt: 'blurry',
  clipSkip: 1,
  batchSize: 1,
  width: 512,
  height: 768,
  ...overrides,
});

/** All outputs of a text encoder for one 77-token row, as float32. */
async function rawEncode(session: ort.InferenceSession, ids: number[]): Promise<Record<string, Float32Array>> {
  const results = await session.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, ids.length]) });
  return Object.fromEntries(
    Object.entries(results).map(([name, t]) => [name, t.type === 'float16' ? float16ToFloat32(t.data as Uint16Array) : (t.data as Float32Array)]),
  );
}

function row(model: LoadedModel, text: string, stage = 0): number[] {
  const { tokenizer } = model.textEncoders[stage];
  const ids = [tokenizer.bosTokenId, ...tokenizer.encode(text), tokenizer.eosTokenId];
  while (ids.length < 77) ids.push(tokenizer.padTokenId);
  return ids;
}

const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;

function expectClose(actual: Float32Array, expected: Float32Array, digits = 5) {
  expect(actual.length).toBe(expected.length);
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
  expect(worst).toBeLessThan(10 ** -digits);
}

describe('SD 1.x conditioning', () => {
  it('encodes a short prompt into one 77-token chunk: last_hidden_state at clip skip 1', async () => {
    const out = await encodePrompts(sd15, request());
    expect(out).toMatchObject({ sequenceLength: 77, embeddingWidth: 32 });
    expect(out.sdxl).toBeUndefined();
    expect(out.cond).toHaveLength(77 * 32);
    expect(out.uncond).toHaveLength(77 * 32);
    expect(out.cond).toEqual((await rawEncode(raw.sd15, row(sd15, 'a photo of a cat'))).last_hidden_state);
    expect(out.uncond).toEqual((await rawEncode(raw.sd15, row(sd15, 'blurry'))).last_hidden_state);
  });

  it('repeats the rows for each image of the batch', async () => {
    const one = await encodePrompts(sd15, request());
    const three = await encodePrompts(sd15, request({ batchSize: 3 }));
    expect(three.cond).toHaveLength(3 * one.cond.length);
    for (let i = 0; i < 3; i++) {
      expect(three.cond.subarray(i * one.cond.length, (i + 1) * one.cond.length)).toEqual(one.cond);
      expect(three.uncond.subarray(i * one.uncond.length, (i + 1) * one.uncond.length)).toEqual(one.uncond);
    }
  });

  it('weights token embeddings and restores the chunk mean, as A1111 does', async () => {
    const plain = (await rawEncode(raw.sd15, row(sd15, 'a photo of a cat'))).last_hidden_state;
    const out = await encodePrompts(sd15, request({ prompt: 'a photo of a (cat:1.5)' }));
    // Same tokens; "cat" (position 5: BOS a photo of a cat) weighs 1.5.
    const expected = plain.slice();
    for (let j = 5 * 32; j < 6 * 32; j++) expected[j] *= 1.5;
    const restore = mean(plain) / mean(expected);
    expectClose(out.cond, expected.map((v) => v * restore));
    expect(mean(out.cond)).toBeCloseTo(mean(plain), 6);
    expect(out.cond).not.toEqual(plain);

    const weaker = await encodePrompts(sd15, request({ prompt: 'a photo of a [cat]' }));
    expect(weaker.cond).not.toEqual(out.cond);
    expect(mean(weaker.cond)).toBeCloseTo(mean(plain), 6);
  });

  it('splits a prompt longer than 75 tokens into chunks and pads the negative with empty-prompt chunks', async () => {
    const long = Array(40).fill('red cat').join(' ');
    const out = await encodePrompts(sd15, request({ prompt: long }));
    expect(out.sequenceLength).toBe(154);
    expect(out.cond).toHaveLength(154 * 32);
    const tokens = sd15.textEncoders[0].tokenizer.encode(long);
    expect(tokens).toHaveLength(80);
    const first = await rawEncode(raw.sd15, [sd15.textEncoders[0].tokenizer.bosTokenId, ...tokens.slice(0, 75), sd15.textEncoders[0].tokenizer.eosTokenId]);
    expect(out.cond.subarray(0, 77 * 32)).toEqual(first.last_hidden_state);
    expect(out.uncond.subarray(0, 77 * 32)).toEqual((await rawEncode(raw.sd15, row(sd15, 'blurry'))).last_hidden_state);
    expect(out.uncond.subarray(77 * 32)).toEqual((await rawEncode(raw.sd15, row(sd15, ''))).last_hidden_state);
  });

  it('pads the prompt when the negative prompt is the longer one, and honours BREAK', async () => {
    const out = await encodePrompts(sd15, request({ negativePrompt: 'ugly BREAK blurry' }));
    expect(out.sequenceLength).toBe(154);
    expect(out.cond.subarray(77 * 32)).toEqual((await rawEncode(raw.sd15, row(sd15, ''))).last_hidden_state);
    expect(out.uncond.subarray(77 * 32)).toEqual((await rawEncode(raw.sd15, row(sd15, 'blurry'))).last_hidden_state);
  });

  it('clip skip 2 takes the penultimate layer through the final layer norm', async () => {
    const all = await rawEncode(raw.sd15, row(sd15, 'a photo of a cat'));
    const out = await encodePrompts(sd15, request({ clipSkip: 2 }));
    const norm = fitLayerNorm(all['hidden_states.12'], all.last_hidden_state, 32, 1e-5);
    expectClose(out.cond, applyLayerNorm(all['hidden_states.11'], 32, norm), 4);
    expect(out.cond).not.toEqual(all['hidden_states.11']);
    expect(out.cond).not.toEqual((await encodePrompts(sd15, request())).cond);
    expect(out.cond).not.toEqual((await encodePrompts(sd15, request({ clipSkip: 3 }))).cond);
  });

  it('refuses a clip skip deeper than the text encoder', async () => {
    await expect(encodePrompts(sd15, request({ clipSkip: 13 }))).rejects.toThrow(InvalidRequestError);
    await expect(encodePrompts(sd15, request({ clipSkip: 13 }))).rejects.toThrow(/12-layer/);
  });
});

describe('SDXL conditioning', () => {
  it("concatenates both encoders' penultimate layers and takes the pooled embedding from encoder 2", async () => {
    const out = await encodePrompts(sdxl, request({ batchSize: 2 }));
    expect(out).toMatchObject({ sequenceLength: 77, embeddingWidth: 72 });
    expect(out.cond).toHaveLength(2 * 77 * 72);
    const one = await rawEncode(raw.sdxl1, row(sdxl, 'a photo of a cat', 0));
    const two = await rawEncode(raw.sdxl2, row(sdxl, 'a photo of a cat', 1));
    for (const t of [0, 5, 76]) {
      const token = out.cond.subarray(t * 72, (t + 1) * 72);
      expect(token.subarray(0, 32)).toEqual(one['hidden_states.11'].subarray(t * 32, (t + 1) * 32));
      expect(token.subarray(32)).toEqual(two['hidden_states.15'].subarray(t * 40, (t + 1) * 40));
    }
    expect(out.sdxl?.pooledWidth).toBe(40);
    expect(out.sdxl?.pooledCond).toEqual(Float32Array.from([...two.text_embeds, ...two.text_embeds]));
    const negative = await rawEncode(raw.sdxl2, row(sdxl, 'blurry', 1));
    expect(out.sdxl?.pooledUncond.subarray(0, 40)).toEqual(negative.text_embeds);
  });

  it('pads tokenizer 2 with "!" and tokenizer 1 with end-of-text', () => {
    expect(row(sdxl, 'cat', 1).slice(-1)).toEqual([0]);
    expect(row(sdxl, 'cat', 0).slice(-1)).toEqual([sdxl.textEncoders[0].tokenizer.eosTokenId]);
  });

  it('builds time_ids from the original size, the crop and the target size', async () => {
    const out = await encodePrompts(sdxl, request({ width: 832, height: 1216, batchSize: 2 }));
    expect(Array.from(out.sdxl!.timeIds)).toEqual([1216, 832, 0, 0, 1216, 832, 1216, 832, 0, 0, 1216, 832]);
  });

  it('conditions an empty negative prompt on zeros (force_zeros_for_empty_prompt)', async () => {
    const out = await encodePrompts(sdxl, request({ negativePrompt: '' }));
    expect(out.uncond.every((v) => v === 0)).toBe(true);
    expect(out.sdxl!.pooledUncond.every((v) => v === 0)).toBe(true);
    expect(out.cond.some((v) => v !== 0)).toBe(true);

    const sd = await encodePrompts(sd15, request({ negativePrompt: '' }));
    expect(sd.uncond.some((v) => v !== 0)).toBe(true);
  });

  it('treats clip skip 1 and 2 alike and goes deeper from 3', async () => {
    const [one, two, three] = await Promise.all([1, 2, 3].map((clipSkip) => encodePrompts(sdxl, request({ clipSkip }))));
    expect(two.cond).toEqual(one.cond);
    expect(three.cond).not.toEqual(two.cond);
  });

  it('pads both encoders to the same chunk count for long prompts', async () => {
    const out = await encodePrompts(sdxl, request({ prompt: Array(50).fill('blue sky').join(', ') }));
    expect(out.sequenceLength).toBe(77 * 2);
    expect(out.cond).toHaveLength(154 * 72);
    expect(out.uncond).toHaveLength(154 * 72);
  });
});

describe('UNet conditioning for a step', () => {
  it('stacks uncond then cond rows for classifier-free guidance, cond alone without it', async () => {
    const encoding = await encodePrompts(sdxl, request({ batchSize: 2 }));
    const guided = unetConditioningInput(encoding, true);
    expect(guided.encoderHiddenStates.dims).toEqual([4, 77, 72]);
    expect(guided.encoderHiddenStates.data.subarray(0, 2 * 77 * 72)).toEqual(encoding.uncond);
    expect(guided.encoderHiddenStates.data.subarray(2 * 77 * 72)).toEqual(encoding.cond);
    expect(guided.textEmbeds?.dims).toEqual([4, 40]);
    expect(guided.textEmbeds?.data.subarray(80)).toEqual(encoding.sdxl!.pooledCond);
    expect(guided.timeIds?.dims).toEqual([4, 6]);

    const plain = unetConditioningInput(encoding, false);
    expect(plain.encoderHiddenStates).toEqual({ data: encoding.cond, dims: [2, 77, 72] });
    expect(plain.textEmbeds?.data).toEqual(encoding.sdxl!.pooledCond);

    // And the UNet takes it as is.
    const sample = { data: new Float32Array(4 * 4 * 8 * 8).fill(0.5), dims: [4, 4, 8, 8] };
    const out = await sdxl.unet.run({ sample, timestep: 999, conditioning: sdxl.unet.prepareConditioning(guided) });
    expect(out.subarray(0, 256)).not.toEqual(out.subarray(512, 768));
  });

  it('has no SDXL extras for SD 1.x', async () => {
    const input = unetConditioningInput(await encodePrompts(sd15, request()), true);
    expect(input.encoderHiddenStates.dims).toEqual([2, 77, 32]);
    expect(input.textEmbeds).toBeUndefined();
  });
});
