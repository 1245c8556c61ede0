/**
 * Black Forest Labs' own ONNX repositories (black-forest-labs/FLUX.1-schnell-onnx, -dev-onnx):
 * `clip.opt/`, `t5.opt/`, `vae.opt/` and `transformer.opt/<precision>/` (bf16, fp8, fp4), each a
 * graph with its external data. They carry no tokenizers or configs: those are in the base
 * repository (black-forest-labs/FLUX.1-schnell or -dev), and the loader expects them beside the
 * graphs as `tokenizer/`, `tokenizer_2/`, `vae/config.json` and `scheduler/`.
 */
import { bflTransformerPrecision, FLUX_REQUIRED_FILES, ModelLoadError } from '@easel/gpu-runtime/models';
import { ModelFetchError, type HubFile } from './hub-api.js';

const TRANSFORMER_DIR = 'transformer.opt/';
/** Folders fetched whole: graphs and external data, whatever the exporter named the data files. */
const GRAPH_DIRS = ['clip.opt/', 't5.opt/', 'vae.opt/'];
/** What the base repository must supply. */
const BASE_REQUIRED = FLUX_REQUIRED_FILES.filter((file) => file.startsWith('tokenizer'));
const BASE_FILE = /^(tokenizer|tokenizer_2|scheduler)\/[^/]+\.(json|txt)$|^vae\/config\.json$/;

export const isBflExport = (files: readonly HubFile[]): boolean => files.some((file) => file.path.startsWith(TRANSFORMER_DIR));

/**
 * The graphs to fetch: the CLIP, T5 and VAE folders, and the transformer in the one precision
 * onnxruntime runs (gigabytes each, so only that one). Only fp8/fp4: refused by name.
 */
export function selectBflExport(repo: string, files: readonly HubFile[]): { files: HubFile[]; precision: string } {
  const precisions = new Set<string>();
  for (const file of files) {
    const [folder, precision, rest] = file.path.split('/');
    if (`${folder}/` === TRANSFORMER_DIR && rest !== undefined) precisions.add(precision);
  }
  let precision: string | undefined;
  try {
    precision = bflTransformerPrecision(repo, [...precisions]);
  } catch (error) {
    throw error instanceof ModelLoadError ? new ModelFetchError(error.message) : error;
  }
  if (!precision) throw new ModelFetchError(`${repo} has ${TRANSFORMER_DIR} but no transformer precision folder in it (bf16, fp16 or fp32)`);
  const transformerDir = `${TRANSFORMER_DIR}${precision}/`;
  const missing = [...GRAPH_DIRS, transformerDir].filter((dir) => !files.some((file) => file.path === `${dir}model.onnx`));
  if (missing.length > 0) throw new ModelFetchError(`${repo} is not a complete BFL ONNX export: missing ${missing.map((dir) => `${dir}model.onnx`).join(', ')}`);
  return { files: files.filter((file) => [...GRAPH_DIRS, transformerDir].some((dir) => file.path.startsWith(dir))), precision };
}

/** black-forest-labs/FLUX.1-dev-onnx → black-forest-labs/FLUX.1-dev: where the tokenizers are. */
export function bflBaseRepo(repo: string): string {
  if (!/-onnx$/i.test(repo)) {
    throw new ModelFetchError(`${repo} is a BFL ONNX export without tokenizers, and its name does not end in -onnx: say which repository holds them with --base (e.g. black-forest-labs/FLUX.1-schnell)`);
  }
  return repo.replace(/-onnx$/i, '');
}

/** From the base repository: the two tokenizers, the VAE's and the scheduler's configs (small files only). */
export function selectBaseFiles(baseRepo: string, files: readonly HubFile[]): HubFile[] {
  const selected = files.filter((file) => BASE_FILE.test(file.path));
  const missing = BASE_REQUIRED.filter((name) => !selected.some((file) => file.path === name));
  if (missing.length > 0) throw new ModelFetchError(`${baseRepo}, where the BFL export's tokenizers should come from, has no ${missing.join(', ')}; name the right repository with --base`);
  return selected;
}
