import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTinyModels } from '../../src/tiny-models/index.js';
import { GpuUnavailableError, loadModel, ModelLoadError, unloadModel, openSession, type LoadedModel } from '../../src/models/index.js';

let root: string;
let sd15Dir: string;
let sdxlDir: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-load-'));
  const models = await makeTinyModels(root);
  sd15Dir = models['tiny-sd15'];
  sdxlDir = models['tiny-sdxl'];
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A copy of a tiny model to break in some way. */
async function copyOf(dir: string, name: string): Promise<string> {
  const copy = path.join(root, name);
  await cp(dir, copy, { recursive: true });
  return copy;
}

async function loadError(dir: string): Promise<ModelLoadError> {
  const error = await loadModel(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelLoadError);
  return error as ModelLoadError;
}

describe('loadModel', () => {
  it('reads an SD 1.5 folder: architecture, scheduler, tokenizer, VAE scaling, sessions', async () => {
    const model = await loadModel(sd15Dir);
    expect(model.architecture).toBe('sd1');
    expect(model.pipelineClass).toBe('StableDiffusionPipeline');
    expect(model.scheduler).toMatchObject({ predictionType: 'epsilon', numTrainTimesteps: 1000 });
    // scaled_linear: linear in sqrt(beta) from 0.00085 to 0.012.
    expect(model.scheduler.betas[0]).toBeCloseTo(0.00085, 8);
    expect(model.scheduler.betas[999]).toBeCloseTo(0.012, 8);
    expect(Math.sqrt(model.scheduler.betas[500])).toBeCloseTo((Math.sqrt(0.00085) * 499 + Math.sqrt(0.012) * 500) / 999, 8);
    expect(model.vaeScalingFactor).toBe(0.18215);
    expect(model.forceZerosForEmptyPrompt).toBe(false);
    expect(model.executionProvider).toBe('cpu');
    expect(model.textEncoders).toHaveLength(1);
    const [{ tokenizer, encoder }] = model.textEncoders;
    expect(tokenizer.padTokenId).toBe(tokenizer.eosTokenId);
    expect(tokenizer.encode('a photo of a cat')).toHaveLength(5);
    expect(encoder).toMatchObject({ width: 32, pooledWidth: 32, layers: 12 });
    expect(model.unet.takesSizeConditioning).toBe(false);
    expect(model.unet.crossAttentionDim).toBe(32);
    expect(model.vaeEncoder).toBeDefined();
  });

  it('reads an SDXL folder: two encoders, size conditioning, zeros for an empty negative', async () => {
    const model = await loadModel(sdxlDir);
    expect(model.architecture).toBe('sdxl');
    expect(model.scheduler).toMatchObject({ predictionType: 'epsilon', numTrainTimesteps: 1000 });
    expect(model.vaeScalingFactor).toBe(0.13025);
    expect(model.forceZerosForEmptyPrompt).toBe(true);
    const [first, second] = model.textEncoders;
    expect(first.encoder).toMatchObject({ width: 32, layers: 12 });
    expect(second.encoder).toMatchObject({ width: 40, pooledWidth: 40, layers: 16 });
    expect(second.tokenizer.padTokenId).toBe(0);
    expect(model.unet.takesSizeConditioning).toBe(true);
    expect(model.unet.crossAttentionDim).toBe(72);
  });

  it('shares one load between concurrent and later calls, and loads afresh after unloadModel', async () => {
    const dir = await copyOf(sd15Dir, 'cache-check');
    const [a, b] = await Promise.all([loadModel(dir), loadModel(path.join(dir, '.'))]);
    expect(a).toBe(b);
    expect(await loadModel(dir)).toBe(a);
    await unloadModel(dir);
    const c = await loadModel(dir);
    expect(c).not.toBe(a);
    await unloadModel(dir);
  });

  it('says which folder does not exist', async () => {
    const error = await loadError(path.join(root, 'no-such-model'));
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain('no-such-model');
  });

  it('names every missing file of an incomplete folder', async () => {
    const dir = await copyOf(sdxlDir, 'incomplete');
    await rm(path.join(dir, 'text_encoder_2/model.onnx'));
    await rm(path.join(dir, 'tokenizer_2/merges.txt'));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_INCOMPLETE');
    expect(error.message).toContain('text_encoder_2/model.onnx');
    expect(error.message).toContain('tokenizer_2/merges.txt');
  });

  it('reports a folder without model_index.json as incomplete', async () => {
    const dir = await copyOf(sd15Dir, 'no-index');
    await rm(path.join(dir, 'model_index.json'));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_INCOMPLETE');
    expect(error.message).toContain('model_index.json');
  });

  it('names the pipeline class it cannot run', async () => {
    const dir = await copyOf(sd15Dir, 'flux');
    const index = JSON.parse(await readFile(path.join(dir, 'model_index.json'), 'utf8'));
    await writeFile(path.join(dir, 'model_index.json'), JSON.stringify({ ...index, _class_name: 'FluxPipeline' }));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_UNKNOWN_KIND');
    expect(error.message).toContain('FluxPipeline');
  });

  it('accepts the ORT pipeline class names Optimum writes', async () => {
    const dir = await copyOf(sd15Dir, 'ort-class');
    const index = JSON.parse(await readFile(path.join(dir, 'model_index.json'), 'utf8'));
    await writeFile(path.join(dir, 'model_index.json'), JSON.stringify({ ...index, _class_name: 'ORTStableDiffusionPipeline' }));
    expect((await loadModel(dir)).architecture).toBe('sd1');
    await unloadModel(dir);
  });

  it('rejects a corrupt ONNX file naming it, and does not cache the failure', async () => {
    const dir = await copyOf(sd15Dir, 'corrupt');
    const unet = path.join(dir, 'unet/model.onnx');
    const good = await readFile(unet);
    await writeFile(unet, 'not a model');
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_INVALID');
    expect(error.message).toContain(unet);
    await writeFile(unet, good);
    expect((await loadModel(dir)).architecture).toBe('sd1');
    await unloadModel(dir);
  });

  it('rejects a scheduler config it cannot derive sigmas from', async () => {
    const dir = await copyOf(sd15Dir, 'bad-scheduler');
    await writeFile(path.join(dir, 'scheduler/scheduler_config.json'), JSON.stringify({ beta_schedule: 'cosine-ish' }));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_INVALID');
    expect(error.message).toContain('beta_schedule');
  });

  it('refuses a UNet whose text width does not match its text encoder', async () => {
    const dir = await copyOf(sd15Dir, 'mismatched');
    await cp(path.join(sdxlDir, 'text_encoder_2/model.onnx'), path.join(dir, 'text_encoder/model.onnx'));
    const error = await loadError(dir);
    expect(error.code).toBe('MODEL_INVALID');
    expect(error.message).toMatch(/expects 32-wide text embeddings.*give 40/);
  });

  it('loads without a VAE encoder and says img2img needs it', async () => {
    const dir = await copyOf(sd15Dir, 'no-vae-encoder');
    await rm(path.join(dir, 'vae_encoder'), { recursive: true });
    const model = await loadModel(dir);
    expect(model.vaeEncoder).toBeUndefined();
    expect(() => model.requireVaeEncoder()).toThrow(/vae_encoder\/model\.onnx.*img2img/);
    await unloadModel(dir);
  });
});

describe('component wrappers adapt to each export', () => {
  const tensor = (dims: number[], f: (i: number) => number) => ({
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
    dims,
  });
  let sd15: LoadedModel;
  let sdxl: LoadedModel;
  beforeAll(async () => {
    [sd15, sdxl] = await Promise.all([loadModel(sd15Dir), loadModel(sdxlDir)]);
  });

  it('feeds an int64 timestep rounded to the nearest step, and matches a raw session run', async () => {
    const sample = tensor([2, 4, 8, 8], (i) => Math.sin(i));
    const context = tensor([2, 77, 32], (i) => Math.cos(i / 7));
    const conditioning = sd15.unet.prepareConditioning({ encoderHiddenStates: context });
    const out = await sd15.unet.run({ sample, timestep: 499.6, conditioning });
    expect(await sd15.unet.run({ sample, timestep: 500.4, conditioning })).toEqual(out);
    expect(await sd15.unet.run({ sample, timestep: 510, conditioning })).not.toEqual(out);

    const raw = await ort.InferenceSession.create(path.join(sd15Dir, 'unet/model.onnx'));
    const expected = await raw.run({
      sample: new ort.Tensor('float32', sample.data, sample.dims),
      timestep: new ort.Tensor('int64', BigInt64Array.of(500n), [1]),
      encoder_hidden_states: new ort.Tensor('float32', context.data, context.dims),
    });
    expect(out).toEqual(expected.out_sample.data);
  });

  it('converts to and from fp16 around an SDXL UNet with a float16 scalar timestep', async () => {
    const sample = tensor([1, 4, 8, 8], (i) => Math.sin(i));
    const text = {
      encoderHiddenStates: tensor([1, 77, 72], (i) => Math.cos(i / 5) * 0.5),
      textEmbeds: tensor([1, 40], (i) => Math.sin(i * 3)),
      timeIds: { data: Float32Array.of(1024, 1024, 0, 0, 1024, 1024), dims: [1, 6] },
    };
    const conditioning = sdxl.unet.prepareConditioning(text);
    const out = await sdxl.unet.run({ sample, timestep: 500, conditioning });
    expect(out).toBeInstanceOf(Float32Array);
    expect(out).toHaveLength(sample.data.length);
    expect(out.every(Number.isFinite)).toBe(true);
    // Fractional timesteps reach a float UNet (fp16 resolves quarter steps near 500).
    expect(await sdxl.unet.run({ sample, timestep: 500.5, conditioning })).not.toEqual(out);
    const smaller = sdxl.unet.prepareConditioning({ ...text, timeIds: { data: Float32Array.of(512, 512, 0, 0, 1024, 1024), dims: [1, 6] } });
    expect(await sdxl.unet.run({ sample, timestep: 500, conditioning: smaller })).not.toEqual(out);
    expect(() => sdxl.unet.prepareConditioning({ encoderHiddenStates: text.encoderHiddenStates })).toThrow(/textEmbeds/);
    await expect(sdxl.unet.run({ sample: tensor([2, 4, 8, 8], Math.sin), timestep: 500, conditioning })).rejects.toThrow(/batch/);
  });

  it('decodes latents to 8x images and encodes images to the latent mean', async () => {
    const latents = tensor([2, 4, 3, 5], (i) => Math.sin(i) * 3);
    for (const model of [sd15, sdxl]) {
      const image = await model.vaeDecoder.decode(latents);
      expect(image.dims).toEqual([2, 3, 24, 40]);
      const encoded = await model.requireVaeEncoder().encode(image);
      expect(encoded.dims).toEqual([2, 4, 3, 5]);
    }
    const raw = await ort.InferenceSession.create(path.join(sd15Dir, 'vae_encoder/model.onnx'));
    const image = tensor([2, 3, 16, 16], (i) => Math.sin(i / 3));
    const parameters = (await raw.run({ sample: new ort.Tensor('float32', image.data, image.dims) })).latent_parameters.data as Float32Array;
    const mean = (await sd15.requireVaeEncoder().encode(image)).data;
    const plane = 4 * 2 * 2;
    expect(mean.subarray(0, plane)).toEqual(parameters.subarray(0, plane));
    expect(mean.subarray(plane)).toEqual(parameters.subarray(2 * plane, 3 * plane));
  });

  it('picks hidden states by layer from the end, with or without the final layer norm', async () => {
    const { tokenizer, encoder } = sd15.textEncoders[0];
    const ids = new Int32Array(77).fill(tokenizer.padTokenId);
    ids.set([tokenizer.bosTokenId, ...tokenizer.encode('a photo of a cat'), tokenizer.eosTokenId]);
    const raw = await ort.InferenceSession.create(path.join(sd15Dir, 'text_encoder/model.onnx'));
    const all = await raw.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });

    const last = await encoder.encode(ids, 1, { layerFromEnd: 1, finalLayerNorm: true });
    expect(last.hidden).toEqual(all.last_hidden_state.data);
    expect(last.pooled).toEqual(all.pooler_output.data);
    const penultimateRaw = await encoder.encode(ids, 1, { layerFromEnd: 2, finalLayerNorm: false });
    expect(penultimateRaw.hidden).toEqual(all['hidden_states.11'].data);
    const penultimate = await encoder.encode(ids, 1, { layerFromEnd: 2, finalLayerNorm: true });
    expect(penultimate.hidden).not.toEqual(penultimateRaw.hidden);
    await expect(encoder.encode(ids, 1, { layerFromEnd: 13, finalLayerNorm: false })).rejects.toThrow(RangeError);
  });
});

describe('execution providers', () => {
  it('runs on the CPU when told to, and refuses a setting it does not know', async () => {
    const file = path.join(sd15Dir, 'vae_decoder/model.onnx');
    const { provider, session } = await openSession(file, undefined, { EASEL_EXECUTION_PROVIDER: 'cpu' });
    expect(provider).toBe('cpu');
    await session.release();
    await expect(openSession(file, undefined, { EASEL_EXECUTION_PROVIDER: 'tpu' })).rejects.toThrow(/EASEL_EXECUTION_PROVIDER/);
  });

  // The npm package ships no CUDA provider (the committed .npmrc skips its download), so here CUDA is unavailable.
  it('fails a load that insists on CUDA with GPU_UNAVAILABLE saying how to fix it, not MODEL_INVALID', async () => {
    const dir = await copyOf(sd15Dir, 'cuda-required');
    vi.stubEnv('EASEL_EXECUTION_PROVIDER', 'cuda');
    try {
      const error = await loadModel(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GpuUnavailableError);
      expect(error).not.toBeInstanceOf(ModelLoadError);
      expect((error as GpuUnavailableError).code).toBe('GPU_UNAVAILABLE');
      expect((error as Error).message).toMatch(/EASEL_EXECUTION_PROVIDER=cuda.*CUDA provider .* is not installed/);
      expect((error as Error).message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
      expect((error as Error).message).toMatch(/EASEL_EXECUTION_PROVIDER=auto .* or cpu/);
    } finally {
      vi.unstubAllEnvs();
    }
    // The failure is not cached: the same folder loads once the setting allows the CPU.
    expect((await loadModel(dir)).executionProvider).toBe('cpu');
    await unloadModel(dir);
  });
});
