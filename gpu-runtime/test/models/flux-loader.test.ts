import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TensorProto_DataType } from 'onnx-buf';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelLoadError } from '../../src/models/errors.js';
import { loadFluxModel, unloadFluxModel } from '../../src/models/flux/index.js';
import { InvalidRequestError } from '../../src/pipeline/errors.js';
import { generate, type GenerationRequest } from '../../src/pipeline/generate.js';
import { readParameters } from '../../src/pipeline/png.js';
import { buildFluxTransformer } from '../../src/tiny-models/flux-graphs.js';
import { AttrType, ElemType, encodeModel } from '../../src/tiny-models/onnx-proto.js';
import { WeightRandom } from '../../src/tiny-models/random.js';
import { makeTinyModels } from '../../src/tiny-models/index.js';

let root: string;
let devDir: string;
const loadedDirs: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-flux-loader-'));
  devDir = (await makeTinyModels(root))['tiny-flux'];
});
afterEach(async () => {
  delete process.env.EASEL_MODEL_MEMORY_MB;
  await Promise.all(loadedDirs.splice(0).map((dir) => unloadFluxModel(dir)));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const request = (modelDir: string, overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modelDir,
  model: { id: 'f', name: 'Flux', family: 'FLUX', path: path.basename(modelDir) },
  prompt: 'a dragon over a castle at sunset',
  width: 64,
  height: 64,
  steps: 3,
  cfgScale: 1,
  sampler: 'euler',
  schedule: 'normal',
  seed: 5,
  previewEvery: 0,
  ...overrides,
});

async function copyOf(name: string): Promise<string> {
  const dir = path.join(root, name);
  await cp(devDir, dir, { recursive: true });
  loadedDirs.push(dir);
  return dir;
}

/** BFL's FLUX.1-schnell-onnx layout: clip.opt, t5.opt, transformer.opt/<precision>, vae.opt; tokenizers from the base repo. */
async function bflSchnell(name: string, precisions: string[]): Promise<string> {
  const dir = path.join(root, name);
  loadedDirs.push(dir);
  const from = (folder: string) => path.join(devDir, folder);
  await cp(from('text_encoder/model.onnx'), path.join(dir, 'clip.opt/model.onnx'));
  await cp(from('text_encoder_2/model.onnx'), path.join(dir, 't5.opt/model.onnx'));
  await cp(from('vae_decoder/model.onnx'), path.join(dir, 'vae.opt/model.onnx'));
  await cp(from('tokenizer'), path.join(dir, 'tokenizer'), { recursive: true });
  await cp(from('tokenizer_2'), path.join(dir, 'tokenizer_2'), { recursive: true });
  const schnell = buildFluxTransformer({ textWidth: 32, pooledWidth: 24, textLength: 256, guidance: false, floatType: 'float16', idsType: 'float32' }, new WeightRandom(9));
  for (const precision of precisions) {
    await mkdir(path.join(dir, 'transformer.opt', precision), { recursive: true });
    await writeFile(path.join(dir, 'transformer.opt', precision, 'model.onnx'), precision === 'bf16' ? schnell : Buffer.from('not a graph onnxruntime can run'));
  }
  return dir;
}

describe('Flux loader', () => {
  it('keeps every session of a model that fits resident, so a warm function loads nothing', async () => {
    const dir = await copyOf('resident');
    const model = await loadFluxModel(dir);
    expect(model).toMatchObject({ residency: 'resident', variant: 'dev', textLength: 512, vae: { scalingFactor: 0.3611, shiftFactor: 0.1159 } });
    expect(model.layout.kind).toBe('diffusers');
    await generate(request(dir));
    expect(model.loadedComponents.sort()).toEqual(['clip', 't5', 'transformer', 'vaeDecoder', 'vaeEncoder']);
    expect(await loadFluxModel(dir)).toBe(model);
  });

  it('under a smaller memory budget loads each stage in turn and releases it, with the same image', async () => {
    const residentDir = await copyOf('budget-resident');
    const [resident] = await generate(request(residentDir));
    process.env.EASEL_MODEL_MEMORY_MB = '0.01';
    const dir = await copyOf('budget-sequential');
    const opened = vi.spyOn(ort.InferenceSession, 'create');
    const model = await loadFluxModel(dir);
    // Which FLUX.1 it is, read from the transformer's graph file: loading opened no session.
    expect(opened).not.toHaveBeenCalled();
    opened.mockRestore();
    expect(model).toMatchObject({ residency: 'sequential', variant: 'dev', textLength: 512 });
    expect(model.componentBytes.transformer).toBeGreaterThan(0);
    const [sequential] = await generate(request(dir, { model: { id: 'f', name: 'Flux', family: 'FLUX', path: 'budget-resident' } }));
    expect(model.loadedComponents).toEqual([]); // T5 and the rest released after their stage
    expect(sequential.png.equals(resident.png)).toBe(true);
  });

  it("reads BFL's layout: the bf16 transformer, [schnell] from its inputs (no guidance), 256 T5 tokens, no shift", async () => {
    const dir = await bflSchnell('bfl-schnell', ['bf16', 'fp8', 'fp4']);
    const model = await loadFluxModel(dir);
    expect(model).toMatchObject({ variant: 'schnell', textLength: 256, hasVaeEncoder: false, flow: { useDynamicShifting: false, shift: 1 } });
    expect(model.layout).toMatchObject({ kind: 'bfl', transformer: path.join(dir, 'transformer.opt/bf16/model.onnx') });
    const [image] = await generate(request(dir, { steps: 4 }));
    expect(readParameters(image.png)).toMatchObject({ steps: 4 });
    expect(readParameters(image.png)?.guidance).toBeUndefined();
    const refused = await generate(request(dir, { guidance: 3.5 })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidRequestError);
    expect((refused as Error).message).toMatch(/FLUX.1 \[schnell\]-type model, which takes no distilled guidance/);
    const img2img = await generate(request(dir, { baseImage: Buffer.from('x') })).catch((e: unknown) => e);
    expect((img2img as Error).message).toMatch(/no VAE encoder.*img2img/);
  });

  it('refuses TensorRT-only precisions by name and says what to fetch', async () => {
    const dir = await bflSchnell('bfl-fp8-only', ['fp8', 'fp4']);
    const error = await loadFluxModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/fp8 and fp4, quantised for TensorRT, which onnxruntime cannot run.*bf16/) });
  });

  it('refuses a transformer that takes bfloat16 tensors, naming the dtype and what to fetch instead', async () => {
    const dir = await bflSchnell('bfl-bf16-io', ['bf16']);
    // The smallest graph with a bfloat16 input: onnxruntime-node cannot even open it ("Unsupported data type: 16").
    const tensor = (elemType: number) => ({ value: { case: 'tensorType' as const, value: { elemType, shape: { dim: [{ value: { case: 'dimValue' as const, value: 4n } }] } } } });
    const graph = encodeModel({
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      graph: {
        name: 'bf16-io',
        node: [{ opType: 'Cast', input: ['hidden_states'], output: ['latent'], attribute: [{ name: 'to', type: AttrType.INT, i: BigInt(ElemType.FLOAT) }] }],
        input: [{ name: 'hidden_states', type: tensor(TensorProto_DataType.BFLOAT16) }],
        output: [{ name: 'latent', type: tensor(ElemType.FLOAT) }],
      },
    });
    const file = path.join(dir, 'transformer.opt/bf16/model.onnx');
    await writeFile(file, graph);
    // Resident, onnxruntime refuses to open it; sequential, the graph file says so before any session opens.
    for (const budget of [undefined, '0.01']) {
      if (budget) process.env.EASEL_MODEL_MEMORY_MB = budget;
      const error = await loadFluxModel(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect(error).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(`${file} takes or returns bfloat16 tensors`) });
      expect((error as Error).message).toMatch(/fp16 or fp32 export in the diffusers layout/);
    }
  });

  it('says where BFL tokenizers come from when they are missing', async () => {
    const dir = await bflSchnell('bfl-no-tokenizers', ['bf16']);
    await rm(path.join(dir, 'tokenizer_2'), { recursive: true });
    await expect(loadFluxModel(dir)).rejects.toMatchObject({ code: 'MODEL_INCOMPLETE', message: expect.stringMatching(/tokenizer_2\/tokenizer\.json.*base repository/) });
  });
});
