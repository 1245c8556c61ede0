import { access } from 'node:fs/promises';
import path from 'node:path';
import type { GenerationJob } from '@easel/schema';
import { JobFailure } from './failure.js';

/** The job's LoRA files inside LORAS_DIR, each checked to be there. */
export async function resolveLoraFiles(lorasDir: string, files: GenerationJob['loraFiles']): Promise<{ name: string; file: string }[]> {
  return Promise.all(
    files.map(async ({ name, file }) => {
      // The contract allows plain file names only, so this stays inside LORAS_DIR.
      const resolved = path.join(lorasDir, file);
      try {
        await access(resolved);
      } catch {
        throw new JobFailure('LORA_INVALID', `the LoRA "${name}" is not installed on the GPU function: LORAS_DIR has no file "${file}"`);
      }
      return { name, file: resolved };
    }),
  );
}
