/**
 * Fetching a model from the Hugging Face Hub into MODELS_DIR, read top to bottom:
 *
 *   the revision's commit and files -> pick the ONNX export (for BFL's, also the tokenizers from
 *   the base repository) -> model_index.json first (the architecture, and whether the export is
 *   complete) -> every other file, resumably -> the loader's folder check -> manifest -> rename
 *   into MODELS_DIR/<slug>
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
import { fetchIntoCache, placeFile } from './fetch-file.js';
import { HubCacheRepo } from './hf-cache.js';
import { bflBaseRepo, isBflExport, selectBaseFiles, selectBflExport } from './bfl-export.js';
import { listRevision, ModelFetchError, parseRepoSpec, type HubFile, type HubOptions } from './hub-api.js';
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
  /**
   * For BFL's ONNX repositories, which carry no tokenizers: the repository that has them,
   * owner/name[@revision]. Default: the repository's name without "-onnx" (FLUX.1-dev-onnx → FLUX.1-dev).
   */
  baseRepo?: string;
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

/** A repository at one commit, the files to take from it, and its part of the Hugging Face cache. */
interface Source {
  repo: string;
  commit: string;
  files: HubFile[];
  cache: HubCacheRepo;
}

export async function fetchOnnxModel(options: FetchModelOptions): Promise<FetchedModel> {
  const { repo, revision, modelsDir, hub, slug } = options;
  const cacheDir = options.cacheDir ?? getHFHubCachePath();

  // 1. The revision's commit and files, and which of them are the ONNX export. BFL's own export
  //    takes its tokenizers and configs from a second repository, the base model's.
  const listing = await listRevision(hub, repo, revision);
  const source = async (name: string, rev: string, commit: string, files: HubFile[]): Promise<Source> => {
    const cache = new HubCacheRepo(cacheDir, name);
    await cache.writeRef(rev, commit);
    return { repo: name, commit, files, cache };
  };
  let sources: Source[];
  let index: HubFile | undefined;
  if (isBflExport(listing.files)) {
    const { files } = selectBflExport(repo, listing.files);
    const base = options.baseRepo ? parseRepoSpec(options.baseRepo) : { repo: bflBaseRepo(repo), revision: 'main' };
    const baseListing = await listRevision(hub, base.repo, base.revision);
    sources = [await source(repo, revision, listing.commit, files), await source(base.repo, base.revision, baseListing.commit, selectBaseFiles(base.repo, baseListing.files))];
  } else {
    const files = selectOnnxExport(listing.files);
    index = files.find((file) => file.path === 'model_index.json');
    if (!index) {
      throw new ModelFetchError(
        `${repo}@${revision} has no model_index.json, so it is not a diffusers pipeline; Easel needs an ONNX export in Optimum's layout (or BFL's, with transformer.opt/)`,
      );
    }
    sources = [await source(repo, revision, listing.commit, files)];
  }
  const all = sources.flatMap(({ files, cache, commit }) => files.map((file) => ({ file, cache, commit })));
  const cached = await Promise.all(all.map(async ({ file, cache, commit }) => ((await cache.find(commit, file.path)) ? file.size : 0)));
  const sum = (sizes: number[]) => sizes.reduce((total, size) => total + size, 0);
  options.onPlan?.({ commit: listing.commit, files: all.map(({ file }) => file), totalBytes: sum(all.map(({ file }) => file.size)), cachedBytes: sum(cached), cacheDir });

  const staging = path.join(modelsDir, DOWNLOADS_DIR, slug);
  await rm(staging, { recursive: true, force: true });
  const { onBytes, retries, minRetryDelayMs } = options;
  const stage = async ({ repo: from, commit, cache }: Source, file: HubFile) =>
    placeFile(await fetchIntoCache({ hub, repo: from, commit, cache, onBytes, retries, minRetryDelayMs }, file), path.join(staging, file.path));

  try {
    // 2. model_index.json names the pipeline: a repository Easel cannot run fails before the gigabytes.
    let architecture: Architecture = 'flux';
    let family: ModelFamily;
    if (index) {
      await stage(sources[0], index);
      const kind = await readExportKind(staging);
      architecture = kind.architecture;
      family = chooseFamily(architecture, kind.pipelineClass, options.family);
      const required = architecture === 'flux' ? FLUX_REQUIRED_FILES : REQUIRED_FILES[architecture];
      const missing = required.filter((name) => !sources[0].files.some((file) => file.path === name));
      if (missing.length > 0) {
        throw new ModelFetchError(
          `${repo}@${revision} is a ${kind.pipelineClass} without a complete ONNX export (missing ${missing.join(', ')}). ` +
            'Look for a repository or revision with an Optimum export (made with `optimum-cli export onnx`), often a branch named "onnx"',
        );
      }
    } else {
      family = chooseFamily('flux', "BFL's ONNX export of FLUX.1", options.family);
    }

    // 3. The rest, one file at a time (each resumable).
    for (const from of sources) for (const file of from.files) if (file !== index) await stage(from, file);

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
