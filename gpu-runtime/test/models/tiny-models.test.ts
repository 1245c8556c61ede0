import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { TensorProto_DataType } from 'onnx-buf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGraphIo } from '../../src/models/graph-io.js';
import { makeTinyModels, TINY_MODELS_VERSION } from '../../src/tiny-models/index.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/models/index.js';
import { Discretization, parseSchedulerConfig } from '../../src/samplers/index.js';

const fixtures = path.resolve(import.meta.dirname, '../../../../shared/fixtures');

/** What Optimum's export declares: name -> [dtype, rank]. Order matters to nobody, names and types do. */
type Signature = Record<string, [string, number]>;
const HIDDEN = (layers: number, dtype: string): Signature =>
  Object.fromEntries(Array.from({ length: layers + 1 }, (_, i) => [`hidden_states.${i}`, [dtype, 3]]));

const EXPECTED: Record<string, Record<string, { inputs: Signature; outputs: Signature }>> = {
  'tiny-sd15': {
    text_encoder: {
      inputs: { input_ids: ['int32', 2] },
      outputs: { last_hidden_state: ['float32', 3], pooler_output: ['float32', 2], ...HIDDEN(12, 'float32') },
    },
    unet: {
      inputs: { sample: ['float32', 4], timestep: ['int64', 1], encoder_hidden_states: ['float32', 3] },
      outputs: { out_sample: ['float32', 4] },
    },
    vae_decoder: { inputs: { latent_sample: ['float32', 4] }, outputs: { sample: ['float32', 4] } },
    vae_encoder: { inputs: { sample: ['float32', 4] }, outputs: { latent_parameters: ['float32', 4] } },
  },
  'tiny-sdxl': {
    text_encoder: {
      inputs: { input_ids: ['int32', 2] },
      outputs: { last_hidden_state: ['float16', 3], pooler_output: ['float16', 2], ...HIDDEN(12, 'float16') },
    },
    text_encoder_2: {
      inputs: { input_ids: ['int32', 2] },
      outputs: { text_embeds: ['float16', 2], last_hidden_state: ['float16', 3], ...HIDDEN(16, 'float16') },
    },
    unet: {
      inputs: {
        sample: ['float16', 4],
        timestep: ['float16', 0],
        encoder_hidden_states: ['float16', 3],
        text_embeds: ['float16', 2],
        time_ids: ['float16', 2],
      },
      outputs: { out_sample: ['float16', 4] },
    },
    vae_decoder: { inputs: { latent_sample: ['float16', 4] }, outputs: { sample: ['float16', 4] } },
    vae_encoder: { inputs: { sample: ['float16', 4] }, outputs: { latent_parameters: ['float16', 4] } },
  },
  // FLUX.1 [dev]: the transformer's inputs as FluxTransformer2DModel's ONNX export (and BFL's) names them.
  'tiny-flux': {
    text_encoder: {
      inputs: { input_ids: ['int32', 2] },
      outputs: { last_hidden_state: ['float16', 3], pooler_output: ['float16', 2], ...HIDDEN(2, 'float16') },
    },
    text_encoder_2: { inputs: { input_ids: ['int64', 2] }, outputs: { last_hidden_state: ['float16', 3] } },
    transformer: {
      inputs: {
        hidden_states: ['float16', 3],
        encoder_hidden_states: ['float16', 3],
        pooled_projections: ['float16', 2],
        timestep: ['float16', 1],
        img_ids: ['float32', 2],
        txt_ids: ['float32', 2],
        guidance: ['float16', 1],
      },
      outputs: { out_hidden_states: ['float16', 3] },
    },
    vae_decoder: { inputs: { latent_sample: ['float16', 4] }, outputs: { sample: ['float16', 4] } },
    vae_encoder: { inputs: { sample: ['float16', 4] }, outputs: { latent_parameters: ['float16', 4] } },
  },
};

function signature(values: readonly ort.InferenceSession.ValueMetadata[]): Signature {
  return Object.fromEntries(values.map((v) => (v.isTensor ? [v.name, [v.type, v.shape.length]] : [v.name, ['non-tensor', -1]])));
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

let root: string;
let models: Awaited<ReturnType<typeof makeTinyModels>>;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-tiny-'));
  models = await makeTinyModels(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('tiny models', () => {
  for (const [model, components] of Object.entries(EXPECTED)) {
    for (const [component, expected] of Object.entries(components)) {
      it(`${model}/${component} has the real export's input and output names and dtypes`, async () => {
        const session = await ort.InferenceSession.create(path.join(root, model, component, 'model.onnx'));
        expect(signature(session.inputMetadata)).toEqual(expected.inputs);
        expect(signature(session.outputMetadata)).toEqual(expected.outputs);
        await session.release();
      });
    }
  }

  it('declares the dynamic axes Optimum declares', async () => {
    const unet = await ort.InferenceSession.create(path.join(models['tiny-sd15'], 'unet/model.onnx'));
    const sample = unet.inputMetadata.find((m) => m.name === 'sample');
    expect(sample?.isTensor && sample.shape).toEqual(['batch_size', 4, 'height', 'width']);
    const encoder = await ort.InferenceSession.create(path.join(models['tiny-sdxl'], 'text_encoder_2/model.onnx'));
    const ids = encoder.inputMetadata[0];
    expect(ids.isTensor && ids.shape).toEqual(['batch_size', 'sequence_length']);
  });

  it('copies the scheduler configs of the real models', async () => {
    expect(await readJson(path.join(models['tiny-sd15'], 'scheduler/scheduler_config.json'))).toEqual(
      await readJson(path.join(fixtures, 'sd15-pastel-mix/scheduler/scheduler_config.json')),
    );
    expect(await readJson(path.join(models['tiny-sdxl'], 'scheduler/scheduler_config.json'))).toEqual(
      await readJson(path.join(fixtures, 'sdxl-base-1.0/scheduler/scheduler_config.json')),
    );
  });

  it('writes model_index.json, VAE scaling factors and SDXL empty-prompt handling like the real ones', async () => {
    const sdxlIndex = await readJson(path.join(models['tiny-sdxl'], 'model_index.json'));
    const realSdxlIndex = await readJson(path.join(fixtures, 'sdxl-base-1.0/model_index.json'));
    expect(sdxlIndex._class_name).toBe(realSdxlIndex._class_name);
    expect(sdxlIndex.force_zeros_for_empty_prompt).toBe(true);
    expect(Object.keys(sdxlIndex).sort()).toEqual(Object.keys(realSdxlIndex).sort());
    const sd15Index = await readJson(path.join(models['tiny-sd15'], 'model_index.json'));
    expect(sd15Index._class_name).toBe('StableDiffusionPipeline');
    expect((await readJson(path.join(models['tiny-sd15'], 'vae_decoder/config.json'))).scaling_factor).toBe(0.18215);
    expect((await readJson(path.join(models['tiny-sdxl'], 'vae_decoder/config.json'))).scaling_factor).toBe(0.13025);
  });

  it('generates a CLIP-format vocabulary whose size matches the text encoders, specials last', async () => {
    const dir = models['tiny-sdxl'];
    const vocab: Record<string, number> = await readJson(path.join(dir, 'tokenizer/vocab.json'));
    const size = Object.keys(vocab).length;
    expect(vocab['<|startoftext|>']).toBe(size - 2);
    expect(vocab['<|endoftext|>']).toBe(size - 1);
    expect(vocab['!']).toBe(0);
    expect(vocab['cat</w>']).toBeGreaterThan(511);
    const merges = (await readFile(path.join(dir, 'tokenizer/merges.txt'), 'utf8')).trim().split('\n');
    expect(merges[0]).toMatch(/^#version/);
    expect(merges.length - 1).toBe(size - 512 - 2);
    for (const encoder of ['text_encoder', 'text_encoder_2']) {
      expect((await readJson(path.join(dir, encoder, 'config.json'))).vocab_size).toBe(size);
    }
    expect((await readJson(path.join(dir, 'tokenizer_2/special_tokens_map.json'))).pad_token).toBe('!');
    expect((await readJson(path.join(dir, 'tokenizer/special_tokens_map.json'))).pad_token).toBe('<|endoftext|>');
  });

  it('skips folders already written with the same version and rewrites stale ones', async () => {
    const marker = path.join(models['tiny-sd15'], 'easel-tiny-model.json');
    const unet = path.join(models['tiny-sd15'], 'unet/model.onnx');
    const before = await stat(unet);
    await makeTinyModels(root);
    expect((await stat(unet)).ino).toBe(before.ino);

    await writeFile(marker, JSON.stringify({ version: TINY_MODELS_VERSION - 1 }));
    await makeTinyModels(root);
    expect((await stat(unet)).ino).not.toBe(before.ino);
    expect((await readJson(marker)).version).toBe(TINY_MODELS_VERSION);
  });

  it('writes byte-identical models from the seeded generator', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'easel-tiny-'));
    try {
      const again = await makeTinyModels(other);
      for (const file of ['unet/model.onnx', 'text_encoder_2/model.onnx', 'tokenizer/merges.txt']) {
        expect(Buffer.compare(await readFile(path.join(again['tiny-sdxl'], file)), await readFile(path.join(models['tiny-sdxl'], file)))).toBe(0);
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('tolerates parallel writers of the same folder', async () => {
    const shared = await mkdtemp(path.join(os.tmpdir(), 'easel-tiny-'));
    try {
      const [a, b] = await Promise.all([makeTinyModels(shared), makeTinyModels(shared)]);
      expect(a).toEqual(b);
      await ort.InferenceSession.create(path.join(a['tiny-sdxl'], 'unet/model.onnx'));
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });
});

describe('tiny networks respond to their inputs', () => {
  const run = async (file: string, feeds: Record<string, ort.Tensor>) => {
    const session = await ort.InferenceSession.create(file);
    return session.run(feeds);
  };

  it('the text encoder gives a different hidden state at every layer, and a normalised last one', async () => {
    const vocab: Record<string, number> = await readJson(path.join(models['tiny-sd15'], 'tokenizer/vocab.json'));
    const [bos, eos] = [vocab['<|startoftext|>'], vocab['<|endoftext|>']];
    const ids = new Int32Array(77).fill(eos);
    ids.set([bos, vocab['cat</w>'], vocab['dog</w>'], eos]);
    const out = await run(path.join(models['tiny-sd15'], 'text_encoder/model.onnx'), {
      input_ids: new ort.Tensor('int32', ids, [1, 77]),
    });
    const layers = Array.from({ length: 13 }, (_, i) => out[`hidden_states.${i}`].data as Float32Array);
    for (let i = 1; i < layers.length; i++) expect(layers[i]).not.toEqual(layers[i - 1]);
    const last = out.last_hidden_state.data as Float32Array;
    expect(last).not.toEqual(layers[12]);
    // The pooled output is the final state at the first end-of-text token (position 3).
    expect(Array.from(out.pooler_output.data as Float32Array)).toEqual(Array.from(last.subarray(3 * 32, 4 * 32)));
  });

  it('the UNet output depends on sample, timestep and text', async () => {
    const file = path.join(models['tiny-sd15'], 'unet/model.onnx');
    const sample = new ort.Tensor('float32', Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i)), [1, 4, 8, 8]);
    const text = (v: number) => new ort.Tensor('float32', new Float32Array(77 * 32).fill(v), [1, 77, 32]);
    const t = (v: bigint) => new ort.Tensor('int64', BigInt64Array.of(v), [1]);
    const base = (await run(file, { sample, timestep: t(500n), encoder_hidden_states: text(0.1) })).out_sample.data;
    expect((await run(file, { sample, timestep: t(501n), encoder_hidden_states: text(0.1) })).out_sample.data).not.toEqual(base);
    expect((await run(file, { sample, timestep: t(500n), encoder_hidden_states: text(0.2) })).out_sample.data).not.toEqual(base);
  });

  it('the SDXL UNet also depends on text_embeds and time_ids', async () => {
    const file = path.join(models['tiny-sdxl'], 'unet/model.onnx');
    const half = (dims: number[], bits: number) => new ort.Tensor('float16', new Uint16Array(dims.reduce((a, b) => a * b, 1)).fill(bits), dims);
    const feeds = {
      sample: half([1, 4, 8, 8], 0x3800),
      timestep: half([], 0x5c00),
      encoder_hidden_states: half([1, 77, 72], 0x2e66),
      text_embeds: half([1, 40], 0x3c00),
      time_ids: half([1, 6], 0x6400),
    };
    const base = (await run(file, feeds)).out_sample.data;
    expect((await run(file, { ...feeds, text_embeds: half([1, 40], 0x3e00) })).out_sample.data).not.toEqual(base);
    expect((await run(file, { ...feeds, time_ids: half([1, 6], 0x6000) })).out_sample.data).not.toEqual(base);
  });

  // What keeps every sampler stable: the noise predicted for latents around a mean μ with |μ| ≤ 1,
  // ε̂ = σ/√(1+σ²)·sample − σ/(1+σ²)·μ, so D = x − σ·ε̂ = (x + σ²μ)/(1+σ²) never runs away.
  it.each([
    ['tiny-sd15', 'float32', 1e-6],
    ['tiny-sdxl', 'float16', 1e-3], // fp16 rounds the output to about 5e-4 of its size
  ] as const)('the %s UNet predicts the noise of latents around a bounded mean, at its own noise levels', async (name, dtype, tolerance) => {
    const dir = models[name];
    const discretization = Discretization.fromConfig(parseSchedulerConfig(await readJson(path.join(dir, 'scheduler/scheduler_config.json'))));
    const session = await ort.InferenceSession.create(path.join(dir, 'unet/model.onnx'));
    const width = name === 'tiny-sd15' ? 32 : 72;
    const tensor = (values: Float32Array, dims: number[]): ort.Tensor =>
      dtype === 'float16' ? new ort.Tensor('float16', float32ToFloat16(values), dims) : new ort.Tensor('float32', values, dims);
    const asFloats = (t: ort.Tensor) => (dtype === 'float16' ? float16ToFloat32(t.data as Uint16Array) : (t.data as Float32Array));
    const extras: Record<string, ort.Tensor> =
      name === 'tiny-sdxl'
        ? {
            text_embeds: tensor(Float32Array.from({ length: 40 }, (_, i) => Math.cos(i)), [1, 40]),
            time_ids: tensor(Float32Array.of(1024, 1024, 0, 0, 1024, 1024), [1, 6]),
          }
        : {};
    const sample = tensor(Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => 30 * Math.sin(i * 1.7)), [1, 4, 8, 8]);
    const x = asFloats(sample);

    for (const t of [0, 250, 999]) {
      const timestep = name === 'tiny-sd15' ? new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), [1]) : tensor(Float32Array.of(t), []);
      const feeds = { sample, timestep, encoder_hidden_states: tensor(Float32Array.from({ length: 77 * width }, (_, i) => Math.sin(i)), [1, 77, width]), ...extras };
      const out = asFloats((await session.run(feeds)).out_sample);
      const sigma = discretization.timestepToSigma(t);
      const [sampleGain, meanGain] = [sigma / Math.sqrt(1 + sigma ** 2), sigma / (1 + sigma ** 2)];
      const mean = out.map((v, i) => (sampleGain * x[i] - v) / meanGain);
      const slack = x.map((v) => (tolerance * (1 + Math.abs(sampleGain * v))) / meanGain);
      expect(mean.every((m, i) => Math.abs(m) <= 1 + slack[i])).toBe(true);
      expect(Math.max(...mean.map(Math.abs))).toBeGreaterThan(0.2); // μ is there, not 0
    }
    await session.release();
  });

  it('the VAE decoder maps a latent to an image 8 times larger with values in [-1, 1]', async () => {
    const latent = new ort.Tensor('float32', Float32Array.from({ length: 4 * 3 * 5 }, (_, i) => Math.cos(i) * 4), [1, 4, 3, 5]);
    const out = (await run(path.join(models['tiny-sd15'], 'vae_decoder/model.onnx'), { latent_sample: latent })).sample;
    expect(out.dims).toEqual([1, 3, 24, 40]);
    const pixels = out.data as Float32Array;
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
    expect(Math.min(...pixels)).toBeGreaterThanOrEqual(-1);
    expect(new Set(pixels).size).toBeGreaterThan(100);
  });
});

/** onnxruntime's names for the ONNX data types the tiny models use. */
const ORT_TYPE: Record<number, string> = { [TensorProto_DataType.FLOAT]: 'float32', [TensorProto_DataType.FLOAT16]: 'float16', [TensorProto_DataType.INT64]: 'int64', [TensorProto_DataType.INT32]: 'int32' };

describe("reading a graph's inputs and outputs from its file", () => {
  // The reference is onnxruntime's own session metadata for the same file.
  it.each([
    ['tiny-flux', 'transformer/model.onnx'],
    ['tiny-flux', 'text_encoder_2/model.onnx'],
    ['tiny-sdxl', 'unet/model.onnx'],
    ['tiny-sd15', 'unet/model.onnx'],
  ] as const)('%s %s: the names, dtypes and shapes onnxruntime reports', async (model, relative) => {
    const file = path.join(models[model], relative);
    const session = await ort.InferenceSession.create(file);
    try {
      const io = await readGraphIo(file);
      const asOrt = (values: typeof io.inputs) => values.map(({ name, elemType, shape }) => ({ name, type: ORT_TYPE[elemType], shape }));
      const fromSession = (values: readonly ort.InferenceSession.ValueMetadata[]) =>
        values.map((value) => (value.isTensor ? { name: value.name, type: value.type, shape: value.shape } : { name: value.name }));
      expect(asOrt(io.inputs)).toEqual(fromSession(session.inputMetadata));
      expect(asOrt(io.outputs)).toEqual(fromSession(session.outputMetadata));
    } finally {
      await session.release();
    }
  });

  it('says which file is not an ONNX graph', async () => {
    const file = path.join(root, 'not-a-graph.onnx');
    await writeFile(file, 'not a graph onnxruntime can run');
    await expect(readGraphIo(file)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(`cannot read the ONNX graph ${file}`) });
  });
});
