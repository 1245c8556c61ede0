/**
 * Fetching one LoRA file from the Hugging Face Hub into LORAS_DIR, read top to bottom:
 *
 *   the revision's commit and files -> the file (only .safetensors) -> into the Hugging Face
 *   cache, resumably (fetch-file.ts) -> checked as a LoRA -> LORAS_DIR/<file>, in one rename
 *
 * A file that is not a LoRA Easel can use never reaches LORAS_DIR. An existing file of that name
 * with other content is kept unless `replace` says otherwise (a catalog entry may use it), and
 * then held aside until the caller keeps the new one or undoes the fetch.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getHFHubCachePath } from '@huggingface/hub';
import { inspectLoraFile, LoraFileError, type LoraFileReport } from '@easel/gpu-runtime/lora-file';
import { fetchIntoCache, placeFile } from './fetch-file.js';
import { HubCacheRepo } from './hf-cache.js';
import { listRevision, ModelFetchError, type HubOptions } from './hub-api.js';

export interface FetchLoraOptions {
  repo: string;
  revision: string;
  /** The file's path in the repository. */
  path: string;
  lorasDir: string;
  /** Its name in LORAS_DIR. */
  file: string;
  hub: HubOptions;
  /** The Hugging Face cache. Default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Overwrite a file of that name with other content. */
  replace?: boolean;
  onBytes?: (delta: number) => void;
  retries?: number;
  minRetryDelayMs?: number;
}

export interface FetchedLora {
  commit: string;
  /** Whether LORAS_DIR/<file> was written (false: it held this content already). */
  written: boolean;
  report: LoraFileReport;
  /** Puts LORAS_DIR back as it was: the file this fetch wrote goes, the one it replaced returns. */
  undo(): Promise<void>;
  /** Keeps what was fetched: the replaced file, held aside until now, goes. */
  keep(): Promise<void>;
}

const sha256Of = async (file: string) => {
  const hash = createHash('sha256');
  return pipeline(createReadStream(file), hash).then(() => hash.digest('hex'), () => undefined);
};

export async function fetchLoraFile(options: FetchLoraOptions): Promise<FetchedLora> {
  const { repo, revision, hub } = options;
  if (!options.path.toLowerCase().endsWith('.safetensors')) {
    throw new ModelFetchError(`${options.path} is not a .safetensors file: pickled .ckpt/.pt/.bin files can run code when loaded, so Easel takes LoRAs as .safetensors only`);
  }

  // 1. The revision's commit, and the file in it.
  const listing = await listRevision(hub, repo, revision);
  const file = listing.files.find((entry) => entry.path === options.path);
  if (!file) {
    const offered = listing.files.filter((entry) => entry.path.endsWith('.safetensors')).map((entry) => entry.path);
    throw new ModelFetchError(`${repo}@${revision} has no file ${options.path}${offered.length > 0 ? ` (its .safetensors files: ${offered.slice(0, 10).join(', ')})` : ''}`);
  }

  // 2. Into the cache, and checked there: a file Easel cannot apply stops here.
  const cache = new HubCacheRepo(options.cacheDir ?? getHFHubCachePath(), repo);
  await cache.writeRef(revision, listing.commit);
  const blob = await fetchIntoCache(
    { hub, repo, commit: listing.commit, cache, onBytes: (_file, delta) => options.onBytes?.(delta), retries: options.retries, minRetryDelayMs: options.minRetryDelayMs },
    file,
  );
  let report: LoraFileReport;
  try {
    report = await inspectLoraFile(blob);
  } catch (error) {
    if (!(error instanceof LoraFileError)) throw error;
    throw new ModelFetchError(`${repo}/${options.path} is not a LoRA Easel can use: ${error.message.replace(blob, options.path)}`, { cause: error });
  }

  // 3. Into LORAS_DIR under its name, whole or not at all.
  //    A file it replaces is held aside until the caller keeps or undoes the fetch (its catalog
  //    entry may yet be refused, and an entry already in use must not meet other content).
  const target = path.join(options.lorasDir, options.file);
  const existing = await sha256Of(target);
  const done = async () => undefined;
  if (existing === report.sha256) return { commit: listing.commit, written: false, report, undo: done, keep: done };
  if (existing !== undefined && !options.replace) {
    throw new ModelFetchError(`LORAS_DIR already has a different file named "${options.file}": choose another file name, or replace it`);
  }
  const part = `${target}.incoming-${process.pid}`;
  const previous = existing === undefined ? undefined : `${target}.previous-${process.pid}`;
  await rm(part, { force: true });
  await placeFile(blob, part);
  if (previous) await rename(target, previous);
  await rename(part, target);
  return {
    commit: listing.commit,
    written: true,
    report,
    undo: () => (previous ? rename(previous, target) : rm(target, { force: true })),
    keep: async () => (previous ? rm(previous, { force: true }) : undefined),
  };
}
