/**
 * Writes tiny models in the layout of Optimum's ONNX export, for tests, benchmarks and
 * `npm start` on machines without real weights:
 *
 *   tiny-sd15  SD 1.5 layout, fp32, int64 `timestep` of shape [steps] (older Optimum exports)
 *   tiny-sdxl  SDXL layout, fp16 throughout, scalar float16 `timestep` (current Optimum, --dtype fp16)
 *   tiny-flux  FLUX.1 [dev] layout (flux-model.ts), fp16, with a T5 tokenizer.json
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TINY_MODEL_MARKER } from '@easel/schema';
import { Discretization, parseSchedulerConfig } from '../samplers/index.js';
import { tinyFluxDev } from './flux-model.js';
import { WeightRandom } from './random.js';
import { buildTextEncoder, type TextEncoderSpec } from './text-encoder.js';
import { buildUNet, UNET_EXTERNAL_DATA, type UNetSpec } from './unet.js';
import { buildVaeDecoder, buildVaeEncoder } from './vae.js';
import { buildVocabulary, tokenizerFiles } from './tokenizer-files.js';
import {
  SD15_SCHEDULER,
  SDXL_SCHEDULER,
  sd15ModelIndex,
  sdxlModelIndex,
  textEncoderConfig,
  unetConfig,
  vaeConfig,
} from './pipeline-files.js';

/** Bump when the generated files change, so existing folders are rewritten. */
export const TINY_MODELS_VERSION = 3;

type ModelFiles = Record<string, string | Uint8Array>;

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

function textEncoderFiles(folder: string, spec: TextEncoderSpec, seed: number): ModelFiles {
  return {
    [`${folder}/model.onnx`]: buildTextEncoder(spec, new WeightRandom(seed)),
    [`${folder}/config.json`]: json(
      textEncoderConfig({
        hiddenSize: spec.hiddenSize,
        layers: spec.layers,
        vocabSize: spec.vocabSize,
        layerNormEps: spec.layerNormEps,
        projectionDim: spec.projectionDim,
        dtype: spec.outputType,
      }),
    ),
  };
}

function vaeFiles(floatType: 'float32' | 'float16', seed: number, config: ReturnType<typeof vaeConfig>): ModelFiles {
  return {
    'vae_decoder/model.onnx': buildVaeDecoder(floatType, new WeightRandom(seed)),
    'vae_decoder/config.json': json(config),
    'vae_encoder/model.onnx': buildVaeEncoder(floatType, new WeightRandom(seed + 1)),
    'vae_encoder/config.json': json(config),
  };
}

/** The UNet with its weights in external data, as Optimum writes a UNet. */
function unetFiles(spec: UNetSpec, seed: number): ModelFiles {
  const { model, data } = buildUNet(spec, new WeightRandom(seed));
  return { 'unet/model.onnx': model, ...(data ? { [`unet/${UNET_EXTERNAL_DATA.location}`]: data } : {}) };
}

/** The UNet denoises consistently with its own scheduler, so it needs the σ of each training timestep. */
const trainingSigmas = (scheduler: unknown) => Discretization.fromConfig(parseSchedulerConfig(scheduler)).sigmas;

function tokenizerFolder(folder: string, padToken: string): ModelFiles {
  const files = tokenizerFiles(buildVocabulary(), padToken);
  return Object.fromEntries(Object.entries(files).map(([name, text]) => [`${folder}/${name}`, text]));
}

function tinySd15(): ModelFiles {
  const vocabSize = buildVocabulary().size;
  const hiddenSize = 32;
  return {
    'model_index.json': json(sd15ModelIndex()),
    'scheduler/scheduler_config.json': json(SD15_SCHEDULER),
    ...tokenizerFolder('tokenizer', '<|endoftext|>'),
    ...textEncoderFiles(
      'text_encoder',
      { vocabSize, hiddenSize, layers: 12, maxPositions: 77, layerNormEps: 1e-5, outputType: 'float32' },
      1501,
    ),
    ...unetFiles(
      {
        crossAttentionDim: hiddenSize,
        floatType: 'float32',
        timestep: { type: 'int64', dims: ['steps'] },
        trainingSigmas: trainingSigmas(SD15_SCHEDULER),
        // SD 1.5 has transformers in down blocks 0-2, the mid block and up blocks 1-3.
        attentionBlocks: ['down_blocks.0.attentions.0', 'mid_block.attentions.0', 'up_blocks.1.attentions.0'],
      },
      1502,
    ),
    'unet/config.json': json(unetConfig({ crossAttentionDim: hiddenSize, sampleSize: 64 })),
    ...vaeFiles('float32', 1503, vaeConfig({ scalingFactor: 0.18215, sampleSize: 512, forceUpcast: false })),
  };
}

function tinySdxl(): ModelFiles {
  const vocabSize = buildVocabulary().size;
  const [hidden1, hidden2] = [32, 40];
  return {
    'model_index.json': json(sdxlModelIndex()),
    'scheduler/scheduler_config.json': json(SDXL_SCHEDULER),
    ...tokenizerFolder('tokenizer', '<|endoftext|>'),
    ...tokenizerFolder('tokenizer_2', '!'),
    ...textEncoderFiles(
      'text_encoder',
      { vocabSize, hiddenSize: hidden1, layers: 12, maxPositions: 77, layerNormEps: 1e-5, outputType: 'float16' },
      2001,
    ),
    ...textEncoderFiles(
      'text_encoder_2',
      { vocabSize, hiddenSize: hidden2, layers: 16, maxPositions: 77, layerNormEps: 1e-5, projectionDim: hidden2, outputType: 'float16' },
      2002,
    ),
    ...unetFiles(
      {
        crossAttentionDim: hidden1 + hidden2,
        pooledDim: hidden2,
        floatType: 'float16',
        timestep: { type: 'float16', dims: [] },
        trainingSigmas: trainingSigmas(SDXL_SCHEDULER),
        // SDXL has transformers in down blocks 1-2, the mid block and up blocks 0-1 (none in down block 0).
        attentionBlocks: ['down_blocks.1.attentions.0', 'mid_block.attentions.0', 'up_blocks.0.attentions.1'],
      },
      2003,
    ),
    'unet/config.json': json(unetConfig({ crossAttentionDim: hidden1 + hidden2, sampleSize: 128, pooledDim: hidden2 })),
    ...vaeFiles('float16', 2004, vaeConfig({ scalingFactor: 0.13025, sampleSize: 1024, forceUpcast: true })),
  };
}

const TINY_MODELS = { 'tiny-sd15': tinySd15, 'tiny-sdxl': tinySdxl, 'tiny-flux': tinyFluxDev } as const;
export type TinyModelName = keyof typeof TINY_MODELS;

async function writtenVersion(dir: string): Promise<number | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, TINY_MODEL_MARKER), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/**
 * Writes the folder under a temporary name and renames it into place, so a reader (or a second
 * writer, such as parallel test files) never sees half a model.
 */
async function writeModel(dir: string, files: ModelFiles): Promise<void> {
  const staging = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(staging, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  await writeFile(path.join(staging, TINY_MODEL_MARKER), json({ version: TINY_MODELS_VERSION }));
  try {
    await rename(staging, dir);
    return;
  } catch (error) {
    if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
  if ((await writtenVersion(dir)) === TINY_MODELS_VERSION) {
    // Another writer (a parallel test file) got there first with the same content.
    await rm(staging, { recursive: true, force: true });
    return;
  }
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
}

/**
 * The temporary folder that test files share for the tiny models. Named by version, so that
 * checkouts writing another version of the models never replace them under a running test.
 */
export const sharedTinyModelsDir = (): string => path.join(os.tmpdir(), `easel-tiny-models-v${TINY_MODELS_VERSION}`);

/** Writes any tiny model that is missing or from another version; returns each model's folder. */
export async function makeTinyModels(targetDir: string): Promise<Record<TinyModelName, string>> {
  await mkdir(targetDir, { recursive: true });
  const entries = await Promise.all(
    (Object.keys(TINY_MODELS) as TinyModelName[]).map(async (name) => {
      const dir = path.join(targetDir, name);
      if ((await writtenVersion(dir)) !== TINY_MODELS_VERSION) await writeModel(dir, TINY_MODELS[name]());
      return [name, dir] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<TinyModelName, string>;
}
export { buildTinyLora, encodeSafetensors, writeDemoLoras } from './lora.js';
export { DataLocation, ElemType, encodeModel, stringEntries, type NodeMessage, type TensorMessage, type ValueInfoMessage } from './onnx-proto.js';
export { nodeNameOf } from './graph-builder.js';
