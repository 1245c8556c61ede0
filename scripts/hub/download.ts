/**
 * One file into the Hugging Face cache, resumably: @huggingface/hub's `downloadFile` gives the
 * file as a Blob that reads the Hub with Range requests; its bytes go to `blobs/<etag>.incomplete`
 * (the name huggingface_hub uses, so either tool resumes the other's part), a broken transfer
 * continues from the part's length (now, with backoff, or on the next run), and only a complete
 * file whose size and hash match the Hub's listing becomes `blobs/<etag>`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { downloadFile } from '@huggingface/hub';
import pRetry, { AbortError } from 'p-retry';
import { hubParams, ModelFetchError, type HubFile, type HubOptions } from './hub-api.js';

export interface BlobDownload {
  hub: HubOptions;
  repo: string;
  commit: string;
  file: HubFile;
  /** Where the finished content goes: the cache's blobs/<etag>. */
  dest: string;
}

export interface DownloadOptions {
  /** Called with each change in the bytes on disk for this file (negative when a part is discarded). */
  onBytes?: (delta: number) => void;
  /** Attempts after the first one, each resuming where the last stopped. */
  retries?: number;
  minTimeoutMs?: number;
}

const sizeOf = (file: string) => stat(file).then((info) => info.size, () => undefined);

export function resolveUrl(hub: HubOptions, repo: string, commit: string, file: string): string {
  return `${hub.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

export async function downloadBlob(task: BlobDownload, options: DownloadOptions = {}): Promise<void> {
  // Progress is what is on disk: a broken transfer may have counted bytes it never wrote.
  let reported = 0;
  const progress = (onDisk: number) => {
    options.onBytes?.(onDisk - reported);
    reported = onDisk;
  };
  await mkdir(path.dirname(task.dest), { recursive: true });
  const part = `${task.dest}.incomplete`;
  await pRetry(() => transfer(task, part, progress), {
    retries: options.retries ?? 5,
    minTimeout: options.minTimeoutMs ?? 500,
    factor: 2,
  });
  await rename(part, task.dest);
}

async function transfer(task: BlobDownload, part: string, progress: (onDisk: number) => void): Promise<void> {
  const { file } = task;
  let offset = (await sizeOf(part)) ?? 0;
  if (offset > file.size) {
    await rm(part);
    offset = 0;
  }
  progress(offset);
  if (offset < file.size) {
    // Statuses the Blob's stream does not pass on: a refusal is not worth retrying.
    let refused: number | undefined;
    const watchingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if ([401, 403, 404].includes(response.status)) refused = response.status;
      return response;
    };
    const url = resolveUrl(task.hub, task.repo, task.commit, file.path);
    const blob = await downloadFile({
      ...hubParams(task.hub),
      repo: task.repo,
      path: file.path,
      revision: task.commit,
      fetch: watchingFetch,
      // The listing already gave the size and hash: no probe request per file.
      downloadInfo: { url, size: file.size, etag: file.etag },
    });
    if (!blob) throw new AbortError(new ModelFetchError(`${url} is not there`));
    try {
      await append(blob.slice(offset).stream(), part, offset, file, progress);
    } catch (error) {
      if (refused === undefined) throw error;
      throw new AbortError(new ModelFetchError(`${url} answered HTTP ${refused}${refused === 404 ? '' : ': set HF_TOKEN to a token that can read this repository'}`));
    }
  }
  await verify(file, part, progress);
}

/** Writes chunk by chunk, so whatever arrived before a broken connection is on disk for the resume. */
async function append(body: ReadableStream<Uint8Array>, part: string, offset: number, file: HubFile, progress: (onDisk: number) => void): Promise<void> {
  const out = await open(part, offset > 0 ? 'a' : 'w');
  let written = offset;
  try {
    for await (const chunk of body) {
      await out.write(chunk);
      written += chunk.length;
      progress(written);
    }
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message ?? String(error);
    throw new Error(`${file.path}: the transfer stopped at ${written} of ${file.size} bytes (${cause})`, { cause: error });
  } finally {
    await out.close();
  }
}

/** A short part is resumed by the next attempt; a wrong one is thrown away and fetched again. */
async function verify(file: HubFile, part: string, progress: (onDisk: number) => void): Promise<void> {
  const size = (await sizeOf(part)) ?? 0;
  progress(size);
  if (size < file.size) throw new Error(`${file.path}: the transfer stopped at ${size} of ${file.size} bytes`);
  if (size === file.size && (await contentHash(file, part)) === file.etag) return;
  await rm(part);
  progress(0);
  throw new Error(`${file.path}: the content does not match the ${file.lfs ? 'SHA-256' : 'git hash'} the Hub lists`);
}

/** LFS files are named by the SHA-256 of their content; the others by their git blob hash. */
async function contentHash(file: HubFile, part: string): Promise<string> {
  const hash = file.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${file.size}\0`);
  await pipeline(createReadStream(part), hash);
  return hash.digest('hex');
}
