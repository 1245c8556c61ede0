/**
 * One file, resumably: bytes go to `<dest>.part`, a broken transfer continues from the part's
 * length with an HTTP Range request (now, with backoff, or on the next run), and only a complete
 * file whose size and SHA-256 match the Hub's listing is renamed to `dest`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pRetry, { AbortError } from 'p-retry';
import { ModelFetchError } from './hub-api.js';

export interface DownloadTask {
  /** For messages: the file's path in the repository. */
  name: string;
  url: string;
  dest: string;
  size?: number;
  sha256?: string;
  headers?: Record<string, string>;
}

export interface DownloadOptions {
  /** Called with each change in the bytes on disk for this file (negative when a part is discarded). */
  onBytes?: (delta: number) => void;
  /** Attempts after the first one, each resuming where the last stopped. */
  retries?: number;
  minTimeoutMs?: number;
}

const sizeOf = (file: string) => stat(file).then((info) => info.size, () => undefined);

export async function downloadFile(task: DownloadTask, options: DownloadOptions = {}): Promise<void> {
  const done = await sizeOf(task.dest);
  // Progress is what is on disk: a broken transfer may have counted bytes it never wrote.
  let reported = 0;
  const progress = (onDisk: number) => {
    options.onBytes?.(onDisk - reported);
    reported = onDisk;
  };
  if (done !== undefined && (task.size === undefined || done === task.size)) return progress(done);
  await mkdir(path.dirname(task.dest), { recursive: true });
  const part = `${task.dest}.part`;
  await pRetry(() => transfer(task, part, progress), {
    retries: options.retries ?? 5,
    minTimeout: options.minTimeoutMs ?? 500,
    factor: 2,
  });
  await rename(part, task.dest);
}

async function transfer(task: DownloadTask, part: string, progress: (onDisk: number) => void): Promise<void> {
  let offset = (await sizeOf(part)) ?? 0;
  if (task.size !== undefined && offset > task.size) {
    await rm(part);
    offset = 0;
  }
  progress(offset);
  if (task.size === undefined || offset < task.size) {
    const response = await fetch(task.url, { headers: { ...task.headers, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) } });
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      await response.body?.cancel();
      throw new AbortError(new ModelFetchError(`${task.url} answered HTTP ${response.status}${response.status === 404 ? '' : ': set HF_TOKEN to a token that can read this repository'}`));
    }
    if (response.status === 206 && contentRangeStartsAt(response, offset)) {
      await append(task, response, part, offset, progress);
    } else if (response.status === 200) {
      // The server ignored the Range header and sends it all.
      await append(task, response, part, 0, progress);
    } else if (!(response.status === 416 && task.size === undefined)) {
      // (416 with no known size: nothing after `offset`, the part is the whole file.)
      await response.body?.cancel();
      throw new Error(`${task.url} answered HTTP ${response.status}${response.status === 206 ? ' from the wrong byte' : ''}`);
    }
  }
  await verify(task, part, progress);
}

function contentRangeStartsAt(response: Response, offset: number): boolean {
  return new RegExp(`^bytes ${offset}-`).test(response.headers.get('content-range') ?? '');
}

/** Writes chunk by chunk, so whatever arrived before a broken connection is on disk for the resume. */
async function append(task: DownloadTask, response: Response, part: string, offset: number, progress: (onDisk: number) => void): Promise<void> {
  const file = await open(part, offset > 0 ? 'a' : 'w');
  let written = offset;
  try {
    for await (const chunk of response.body ?? []) {
      await file.write(chunk);
      written += chunk.length;
      progress(written);
    }
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new Error(`${task.name}: the transfer stopped at ${written}${task.size === undefined ? '' : ` of ${task.size}`} bytes (${cause})`, { cause: error });
  } finally {
    await file.close();
  }
}

/** A short part is resumed by the next attempt; a wrong one is thrown away and fetched again. */
async function verify(task: DownloadTask, part: string, progress: (onDisk: number) => void): Promise<void> {
  const size = (await sizeOf(part)) ?? 0;
  progress(size);
  if (task.size !== undefined && size < task.size) throw new Error(`${task.name}: the transfer stopped at ${size} of ${task.size} bytes`);
  if (task.sha256 === undefined) return;
  const hash = createHash('sha256');
  await pipeline(createReadStream(part), hash);
  if (hash.digest('hex') === task.sha256) return;
  await rm(part);
  progress(0);
  throw new Error(`${task.name}: the content does not match the SHA-256 the Hub lists`);
}
