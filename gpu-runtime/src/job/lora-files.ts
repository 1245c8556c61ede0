import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { GenerationJob } from '@easel/schema';
import { JobFailure } from './failure.js';

export interface LoraFile {
  name: string;
  /** Absolute path inside LORAS_DIR. */
  file: string;
  /** The content's sha256, as the catalog gave it and the file was found to have. */
  sha256: string;
}

/**
 * Hashes already computed, by path, valid while the file keeps its inode, size and modification time:
 * a warm function pays a stat per LoRA per job, and reads a file again only after it changed.
 */
const known = new Map<string, { stamp: string; sha256: string }>();

async function sha256Of(file: string, { ino, size, mtimeMs }: Stats): Promise<string> {
  const stamp = `${ino}:${size}:${mtimeMs}`;
  const cached = known.get(file);
  if (cached?.stamp === stamp) return cached.sha256;
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  const sha256 = hash.digest('hex');
  known.set(file, { stamp, sha256 });
  return sha256;
}

/**
 * The job's LoRA files inside LORAS_DIR, each checked to be there and to be the content the
 * catalog describes: the merged-model cache is keyed by that hash, so a replaced file is used
 * only once the catalog says so (and then never mixed up with the old one).
 */
export async function resolveLoraFiles(lorasDir: string, files: GenerationJob['loraFiles']): Promise<LoraFile[]> {
  return Promise.all(
    files.map(async ({ name, file, sha256 }) => {
      // The contract allows plain file names only, so this stays inside LORAS_DIR.
      const resolved = path.join(lorasDir, file);
      const info = await stat(resolved).catch(() => undefined);
      if (!info?.isFile()) throw new JobFailure('LORA_INVALID', `the LoRA "${name}" is not installed on the GPU function: LORAS_DIR has no file "${file}"`);
      const found = await sha256Of(resolved, info);
      if (found !== sha256) {
        throw new JobFailure(
          'LORA_INVALID',
          `the file "${file}" of the LoRA "${name}" on the GPU function is not the one in the catalog (sha256 ${found.slice(0, 12)}…, the catalog says ${sha256.slice(0, 12)}…): add the LoRA again once its file is in place`,
        );
      }
      return { name, file: resolved, sha256 };
    }),
  );
}
