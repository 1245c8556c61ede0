/**
 * Fetching a model from the Hugging Face Hub into MODELS_DIR, read top to bottom:
 *
 *   list the revision's files -> pick the ONNX export -> model_index.json first (the architecture,
 *   and whether the export is complete) -> every other file, resumably -> the loader's folder
 *   check -> manifest -> rename into MODELS_DIR/<slug>
 *
 * Files land in MODELS_DIR/.downloads/<slug> first, so a broken run resumes where it stopped and
 * the model appears in MODELS_DIR only when it is whole.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeModelManifest, type ModelManifest } from '@easel/api/admin';
import { checkModelFolder, readPipelineKind, REQUIRED_FILES, type PipelineArchitecture } from '@easel/gpu-runtime/models';
import { FAMILY_ARCHITECTURE, type ModelFamily } from '@easel/schema';
import { downloadFile } from './download.js';
import { authHeaders, fileUrl, listRepoFiles, ModelFetchError, type HubFile, type HubOptions } from './hub-api.js';
import { selectOnnxExport } from './onnx-export.js';

export const DOWNLOADS_DIR = '.downloads';
/** Which repository and commit a staging folder holds, so a run of another commit starts afresh. */
const STAGING_MARKER = 'easel-fetch.json';

/** The family a new model gets when nobody says otherwise: the base model of its architecture. */
const BASE_FAMILY: Record<PipelineArchitecture, ModelFamily> = { sd1: 'SD15', sdxl: 'SDXL' };

export interface FetchPlan {
  commit: string;
  files: HubFile[];
  /** Undefined when the Hub did not list every size. */
  totalBytes: number | undefined;
}

export interface FetchModelOptions {
  repo: string;
  revision: string;
  modelsDir: string;
  hub: HubOptions;
  /** The catalog slug, which is also the folder name under MODELS_DIR. */
  slug: string;
  name: string;
  /** Illustrious and Pony are SDXL to the loader: say so here. Default: SD15 or SDXL, from model_index.json. */
  family?: ModelFamily;
  onPlan?: (plan: FetchPlan) => void;
  onBytes?: (file: string, delta: number) => void;
  /** Per file: attempts after the first, each resuming where the last stopped. */
  retries?: number;
  minRetryDelayMs?: number;
}

export interface FetchedModel {
  dir: string;
  manifest: ModelManifest;
}

export async function fetchOnnxModel(options: FetchModelOptions): Promise<FetchedModel> {
  const { repo, revision, modelsDir, hub, slug } = options;

  // 1. What the revision holds, and which of it is the ONNX export.
  const listing = await listRepoFiles(hub, repo, revision);
  const files = selectOnnxExport(listing.files);
  const index = files.find((file) => file.path === 'model_index.json');
  if (!index) {
    throw new ModelFetchError(
      `${repo}@${revision} has no model_index.json, so it is not a diffusers pipeline; Easel needs an ONNX export in Optimum's layout`,
    );
  }
  const sizes = files.map((file) => file.size);
  options.onPlan?.({
    commit: listing.commit,
    files,
    totalBytes: sizes.every((size) => size !== undefined) ? sizes.reduce((sum, size) => sum + size!, 0) : undefined,
  });

  const staging = path.join(modelsDir, DOWNLOADS_DIR, slug);
  await prepareStaging(staging, repo, listing.commit);
  const download = (file: HubFile) =>
    downloadFile(
      { name: file.path, url: fileUrl(hub, repo, listing.commit, file.path), dest: path.join(staging, file.path), size: file.size, sha256: file.sha256, headers: authHeaders(hub) },
      { onBytes: (delta) => options.onBytes?.(file.path, delta), retries: options.retries, minTimeoutMs: options.minRetryDelayMs },
    );

  // 2. model_index.json names the pipeline: a repository Easel cannot run fails before the gigabytes.
  await download(index);
  const { architecture, pipelineClass } = await readPipelineKind(staging);
  const family = chooseFamily(architecture, pipelineClass, options.family);
  const missing = REQUIRED_FILES[architecture].filter((required) => !files.some((file) => file.path === required));
  if (missing.length > 0) {
    throw new ModelFetchError(
      `${repo}@${revision} is a ${pipelineClass} without a complete ONNX export (missing ${missing.join(', ')}). ` +
        'Look for a repository or revision with an Optimum export (made with `optimum-cli export onnx`), often a branch named "onnx"',
    );
  }

  // 3. The rest, one file at a time (each resumable).
  for (const file of files) if (file !== index) await download(file);

  // 4. The loader's own check, the manifest, and into place in one rename.
  await checkModelFolder(staging);
  await rm(path.join(staging, STAGING_MARKER));
  const manifest: ModelManifest = { slug, name: options.name, family, source: repo, revision, commit: listing.commit };
  await writeModelManifest(staging, manifest);
  const dir = path.join(modelsDir, slug);
  await replaceFolder(staging, dir);
  return { dir, manifest };
}

function chooseFamily(architecture: PipelineArchitecture, pipelineClass: string, wanted: ModelFamily | undefined): ModelFamily {
  if (!wanted) return BASE_FAMILY[architecture];
  if (FAMILY_ARCHITECTURE[wanted] !== architecture) {
    throw new ModelFetchError(`the family ${wanted} runs on ${FAMILY_ARCHITECTURE[wanted]} pipelines, but this repository holds a ${pipelineClass} (${architecture})`);
  }
  return wanted;
}

/** Keeps the files of an earlier, broken run of the same commit; anything else starts over. */
async function prepareStaging(staging: string, repo: string, commit: string): Promise<void> {
  const marker = path.join(staging, STAGING_MARKER);
  const previous = await readFile(marker, 'utf8').then((text) => JSON.parse(text) as { repo?: string; commit?: string }, () => undefined);
  if (previous?.repo !== repo || previous?.commit !== commit) await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(marker, JSON.stringify({ repo, commit }) + '\n');
}

/** An older install of the same slug is moved aside, then removed, so readers see one or the other. */
async function replaceFolder(source: string, target: string): Promise<void> {
  const aside = `${source}.replaced-${process.pid}`;
  const hadOne = await rename(target, aside).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(source, target);
  if (hadOne) await rm(aside, { recursive: true, force: true });
}
