import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors.js';
import { readJson } from '../pipeline-config.js';

/**
 * Where a Flux export keeps its parts. Two layouts exist:
 *
 * - diffusers / Optimum: `model_index.json` naming a FluxPipeline, `text_encoder/` (CLIP ViT-L),
 *   `text_encoder_2/` (T5-XXL), `tokenizer/`, `tokenizer_2/`, `transformer/`, `vae_decoder/`
 *   (+ `vae_encoder/` for img2img), `scheduler/`, each graph a `model.onnx` (+ external data).
 * - Black Forest Labs' FLUX.1-schnell-onnx / FLUX.1-dev-onnx: `clip.opt/`, `t5.opt/`,
 *   `transformer.opt/<precision>/`, `vae.opt/` (decoder only), no tokenizers or configs: those
 *   come from the base repository (black-forest-labs/FLUX.1-schnell or -dev), put beside them as
 *   `tokenizer/`, `tokenizer_2/` and, optionally, `scheduler/` and `vae/config.json`.
 *
 * BFL ships the transformer as bf16 (runs on onnxruntime) and as fp8 and fp4 (quantised for
 * TensorRT, which onnxruntime cannot run): only the first is usable here.
 */
export type FluxLayoutKind = 'diffusers' | 'bfl';

export interface FluxLayout {
  kind: FluxLayoutKind;
  clip: string;
  t5: string;
  transformer: string;
  vaeDecoder: string;
  /** Absent from BFL's exports and text-to-image-only ones. */
  vaeEncoder?: string;
  clipTokenizer: string;
  t5Tokenizer: string;
  /** Optional: without it the variant's defaults apply (schnell: no shift; dev: dynamic shift). */
  schedulerConfig: string;
  /** Optional: Flux's VAE scaling and shift factors are the defaults. */
  vaeConfigs: string[];
}

export const FLUX_PIPELINE_CLASS = /^(ORT|Onnx)?Flux(Img2Img)?Pipeline$/;

/** What a diffusers-layout Flux export cannot run without (vae_encoder/ is optional: img2img only). */
export const FLUX_REQUIRED_FILES = [
  'text_encoder/model.onnx',
  'text_encoder_2/model.onnx',
  'transformer/model.onnx',
  'vae_decoder/model.onnx',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer_2/tokenizer.json',
];

/** Transformer precisions BFL publishes, best first; the last two need TensorRT. */
const RUNNABLE_PRECISIONS = ['fp32', 'fp16', 'bf16'];
const TENSORRT_PRECISIONS = ['fp8', 'fp4'];

const exists = (file: string) => access(file).then(() => true, () => false);

export async function isFluxFolder(dir: string): Promise<boolean> {
  if (await exists(path.join(dir, 'transformer.opt'))) return true;
  if (!(await exists(path.join(dir, 'model_index.json')))) return false;
  const index = await readJson(dir, 'model_index.json');
  return typeof index._class_name === 'string' && FLUX_PIPELINE_CLASS.test(index._class_name);
}

export async function resolveFluxLayout(dir: string): Promise<FluxLayout> {
  const layout = (await exists(path.join(dir, 'transformer.opt'))) ? await bflLayout(dir) : await diffusersLayout(dir);
  const required = [layout.clip, layout.t5, layout.transformer, layout.vaeDecoder, path.join(layout.clipTokenizer, 'vocab.json'), path.join(layout.t5Tokenizer, 'tokenizer.json')];
  const missing = [];
  for (const file of required) if (!(await exists(file))) missing.push(path.relative(dir, file));
  if (missing.length > 0) {
    const hint = layout.kind === 'bfl' ? " (BFL's ONNX exports carry no tokenizers: fetch tokenizer/ and tokenizer_2/ from the base repository, black-forest-labs/FLUX.1-schnell or -dev)" : '';
    throw new ModelLoadError('MODEL_INCOMPLETE', `${dir} is incomplete: missing ${missing.join(', ')}${hint}`);
  }
  return layout;
}

async function diffusersLayout(dir: string): Promise<FluxLayout> {
  const pipelineClass = (await readJson(dir, 'model_index.json'))._class_name;
  if (typeof pipelineClass !== 'string' || !FLUX_PIPELINE_CLASS.test(pipelineClass)) {
    throw new ModelLoadError('MODEL_UNKNOWN_KIND', `${dir} holds a ${String(pipelineClass)}, not a Flux pipeline (FluxPipeline, or BFL's transformer.opt layout)`);
  }
  const vaeEncoder = path.join(dir, 'vae_encoder/model.onnx');
  return {
    kind: 'diffusers',
    clip: path.join(dir, 'text_encoder/model.onnx'),
    t5: path.join(dir, 'text_encoder_2/model.onnx'),
    transformer: path.join(dir, 'transformer/model.onnx'),
    vaeDecoder: path.join(dir, 'vae_decoder/model.onnx'),
    vaeEncoder: (await exists(vaeEncoder)) ? vaeEncoder : undefined,
    clipTokenizer: path.join(dir, 'tokenizer'),
    t5Tokenizer: path.join(dir, 'tokenizer_2'),
    schedulerConfig: path.join(dir, 'scheduler/scheduler_config.json'),
    vaeConfigs: [path.join(dir, 'vae_decoder/config.json'), path.join(dir, 'vae/config.json')],
  };
}

/**
 * Which of the transformer precisions a BFL export has (the folders of `transformer.opt/`) Easel
 * runs: the best runnable one, or undefined when there are none at all. Only TensorRT-quantised
 * ones: the error that names them (`where`: the folder or repository).
 */
export function bflTransformerPrecision(where: string, precisions: readonly string[]): string | undefined {
  const runnable = RUNNABLE_PRECISIONS.find((precision) => precisions.includes(precision));
  if (runnable) return runnable;
  const quantised = TENSORRT_PRECISIONS.filter((precision) => precisions.includes(precision));
  if (quantised.length > 0) throw quantisedError(where, quantised.join(' and '));
  return undefined;
}

async function bflLayout(dir: string): Promise<FluxLayout> {
  const transformerDir = path.join(dir, 'transformer.opt');
  const precisions = await readdir(transformerDir).catch(() => [] as string[]);
  // Without a runnable precision folder, a transformer.opt/model.onnx of its own is taken as it is.
  const flat = path.join(transformerDir, 'model.onnx');
  let precision: string | undefined;
  try {
    precision = bflTransformerPrecision(dir, precisions);
  } catch (error) {
    if (!(await exists(flat))) throw error;
  }
  const transformer = precision ? path.join(transformerDir, precision, 'model.onnx') : flat;
  return {
    kind: 'bfl',
    clip: path.join(dir, 'clip.opt/model.onnx'),
    t5: path.join(dir, 't5.opt/model.onnx'),
    transformer,
    vaeDecoder: path.join(dir, 'vae.opt/model.onnx'),
    clipTokenizer: path.join(dir, 'tokenizer'),
    t5Tokenizer: path.join(dir, 'tokenizer_2'),
    schedulerConfig: path.join(dir, 'scheduler/scheduler_config.json'),
    vaeConfigs: [path.join(dir, 'vae/config.json')],
  };
}

/** What to fetch when a BFL graph takes bfloat16 tensors, which onnxruntime-node cannot feed. */
export const FLUX_FP16_INSTEAD =
  'an fp16 or fp32 export in the diffusers layout instead (model_index.json with transformer/model.onnx, e.g. ' +
  "Optimum's ONNX export of black-forest-labs/FLUX.1-schnell or FLUX.1-dev with --dtype fp16), whose graphs take float16 or float32";

/** A graph quantised for TensorRT (fp8, fp4): onnxruntime has no kernels for it. */
export function quantisedError(where: string, precision: string): ModelLoadError {
  return new ModelLoadError(
    'MODEL_INVALID',
    `${where} holds a Flux transformer in ${precision}, quantised for TensorRT, which onnxruntime cannot run; ` +
      'fetch the bf16 (or fp16) transformer instead (transformer.opt/bf16 in black-forest-labs/FLUX.1-schnell-onnx or FLUX.1-dev-onnx)',
  );
}

/** onnxruntime's complaint about a TensorRT-only graph, recognised so that quantisedError can replace it. */
export function quantisedPrecisionIn(message: string): string | undefined {
  if (/float8|fp8|e4m3/i.test(message)) return 'fp8';
  if (/fp4|float4|nvfp4/i.test(message)) return 'fp4';
  if (/\bTRT_|tensorrt/i.test(message)) return 'a TensorRT-only format';
  return undefined;
}
