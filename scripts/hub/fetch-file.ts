/**
 * One file of a Hub repository's commit, through the standard Hugging Face cache: found there
 * (another tool or an earlier run downloaded it), or downloaded into it resumably; then placed
 * where Easel wants it as a hard link to the cache's blob (a copy across file systems).
 */
import { copyFile, link, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { downloadBlob } from './download.js';
import type { HubCacheRepo } from './hf-cache.js';
import type { HubFile, HubOptions } from './hub-api.js';

export interface CachedFetch {
  hub: HubOptions;
  repo: string;
  commit: string;
  cache: HubCacheRepo;
  /** Bytes on disk, per file; a file found in the cache counts at once. */
  onBytes?: (file: string, delta: number) => void;
  /** Attempts after the first, each resuming where the last stopped. */
  retries?: number;
  minRetryDelayMs?: number;
}

/** The file's content in the cache (its blob): found there, or downloaded into it. */
export async function fetchIntoCache(fetch: CachedFetch, file: HubFile): Promise<string> {
  const { hub, repo, commit, cache } = fetch;
  const found = await cache.find(commit, file.path);
  if (found) {
    fetch.onBytes?.(file.path, file.size);
    return found;
  }
  if (await cache.hasBlob(file.etag)) {
    fetch.onBytes?.(file.path, file.size);
  } else {
    await downloadBlob(
      { hub, repo, commit, file, dest: cache.blobPath(file.etag) },
      { onBytes: (delta) => fetch.onBytes?.(file.path, delta), retries: fetch.retries, minTimeoutMs: fetch.minRetryDelayMs },
    );
  }
  return cache.link(commit, file.path, file.etag);
}

/** A hard link to the cache's blob costs no space; across file systems it is a copy. */
export async function placeFile(blob: string, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  await link(blob, target).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EXDEV' && error.code !== 'EPERM' && error.code !== 'EMLINK') throw error;
    return copyFile(blob, target);
  });
}
