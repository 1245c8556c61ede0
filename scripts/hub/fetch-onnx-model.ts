/**
 * Fetching a model from the Hugging Face Hub into MODELS_DIR, read top to bottom:
 *
 *   the revision's commit and files -> pick the ONNX export -> model_index.json first (the
 *   architecture, and whether the export is complete) -> every other file, resumably -> the
 *   loader's folder check -> manifest -> rename into MODELS_DIR/<slug>
 *
 * Every file goes through the standard Hugging Face cache (see hf-cache.ts): one that another tool
 * (huggingface-cli, diffusers) or an earlier run already downloaded is taken from there, and what
 * is downloaded lands there. The model's folder is assembled in MODELS_DIR/.downloads/<slug> from
 * hard links to the cache's blobs (copies across file systems), and appears in MODELS_DIR only
 * when it is whole.
 */
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';
import { writeModelManifest, type ModelManifest } from '@easel/api/admin';
import { checkModelFolder, FLUX_PIPELINE_CLASS, FLUX_REQUIRED_FILES, readPipelineKind, REQUIRED_FILES, resolveFluxLayout } from '@easel/gpu-runtime/models';
import { FAMILY_ARCHITECTURE, type Architecture, type ModelFamily } from '@easel/schema';
import { fetchIntoCache, placeFile, type CachedFetch } from './fetch-file.js';
import { HubCacheRepo } from './hf-cache.js';
import { listRevision, ModelFetchError, type HubFile, type HubOptions } from './hub-api.js';
import { selectOnnxExport } from './onnx-export.js';

export const DOWNLOADS_DIR = '.downloads';

/** The family a new model gets when nobody says otherwise: the base model of its architecture. */
const BASE_FAMILY: Record<Architecture, ModelFamily> = { sd1: 'SD15', sdxl: 'SDXL', flux: 'FLUX' };

export interface FetchPlan {
  commit: string;
  files: HubFile[];
  totalBytes: number;
  /** Of those, the bytes the Hugging Face cache already holds. */
  cachedBytes: number;
  cacheDir: string;
}

export interface FetchModelOptions {
  repo: string;
  revision: string;
  modelsDir: string;
  hub: HubOptions;
  /** The Hugging Face cache. Default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** The catalog slug, which is also the folder name under MODELS_DIR. */
  slug: string;
  name: string;
  /** Illustrious and Pony are SDXL to the loader: say so here. Default: SD15 or SDXL, from model_index.json. */
  family?: ModelFamily;
  onPlan?: (plan: FetchPlan) => void;
  /** Bytes on disk, per file; a file found in the cache counts at once. */
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
  const cacheDir = options.cacheDir ?? getHFHubCachePath();

  // 1. The revision's commit and files, and which of them are the ONNX export.
  const listing = await listRevision(hub, repo, revision);
  const files = selectOnnxExport(listing.files);
  const index = files.find((file) => file.path === 'model_index.json');
  if (!index) {
    throw new ModelFetchError(
      `${repo}@${revision} has no model_index.json, so it is not a diffusers pipeline; Easel needs an ONNX export in Optimum's layout`,
    );
  }
  const cache = new HubCacheRepo(cacheDir, repo);
  await cache.writeRef(revision, listing.commit);
  const cached = await Promise.all(files.map(async (file) => ((await cache.find(listing.commit, file.path)) ? file.size : 0)));
  const sum = (sizes: number[]) => sizes.reduce((total, size) => total + size, 0);
  options.onPlan?.({ commit: listing.commit, files, totalBytes: sum(files.map((file) => file.size)), cachedBytes: sum(cached), cacheDir });

  const fromHub: CachedFetch = { hub, repo, commit: listing.commit, cache, onBytes: options.onBytes, retries: options.retries, minRetryDelayMs: options.minRetryDelayMs };
  const staging = path.join(modelsDir, DOWNLOADS_DIR, slug);
  await rm(staging, { recursive: true, force: true });
  const stage = async (file: HubFile) => placeFile(await fetchIntoCache(fromHub, file), path.join(staging, file.path));

  try {
    // 2. model_index.json names the pipeline: a repository Easel cannot run fails before the gigabytes.
    await stage(index);
    const { architecture, pipelineClass } = await readExportKind(staging);
    const family = chooseFamily(architecture, pipelineClass, options.family);
    const required = architecture === 'flux' ? FLUX_REQUIRED_FILES : REQUIRED_FILES[architecture];
    const missing = required.filter((name) => !files.some((file) => file.path === name));
    if (missing.length > 0) {
      throw new ModelFetchError(
        `${repo}@${revision} is a ${pipelineClass} without a complete ONNX export (missing ${missing.join(', ')}). ` +
          'Look for a repository or revision with an Optimum export (made with `optimum-cli export onnx`), often a branch named "onnx"',
      );
    }

    // 3. The rest, one file at a time (each resumable).
    for (const file of files) if (file !== index) await stage(file);

    // 4. The loader's own check, the manifest, and into place in one rename.
    if (architecture === 'flux') await resolveFluxLayout(staging);
    else await checkModelFolder(staging);
    const manifest: ModelManifest = { slug, name: options.name, family, source: repo, revision, commit: listing.commit };
    await writeModelManifest(staging, manifest);
    const dir = path.join(modelsDir, slug);
    await replaceFolder(staging, dir);
    return { dir, manifest };
  } catch (error) {
    // What was downloaded stays in the cache for the next run; the half-assembled folder goes.
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Flux pipelines have a loader of their own; the rest are SD 1.x or SDXL. */
async function readExportKind(staging: string): Promise<{ architecture: Architecture; pipelineClass: string }> {
  // Unreadable JSON falls through to readPipelineKind, which says what is wrong with it.
  const index = await readFile(path.join(staging, 'model_index.json'), 'utf8').then((text) => JSON.parse(text) as { _class_name?: unknown }, () => ({ _class_name: undefined }));
  if (typeof index._class_name === 'string' && FLUX_PIPELINE_CLASS.test(index._class_name)) return { architecture: 'flux', pipelineClass: index._class_name };
  return readPipelineKind(staging);
}

function chooseFamily(architecture: Architecture, pipelineClass: string, wanted: ModelFamily | undefined): ModelFamily {
  if (!wanted) return BASE_FAMILY[architecture];
  if (FAMILY_ARCHITECTURE[wanted] !== architecture) {
    throw new ModelFetchError(`the family ${wanted} runs on ${FAMILY_ARCHITECTURE[wanted]} pipelines, but this repository holds a ${pipelineClass} (${architecture})`);
  }
  return wanted;
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
