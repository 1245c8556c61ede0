import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRef } from '@easel/schema';
import { JobFailure } from './failure.js';

/**
 * The job's model folder inside MODELS_DIR. Installed means model_index.json is there, the same
 * test the API's catalog uses for `installed`; the loader checks the rest.
 */
export async function resolveModelDir(modelsDir: string, model: ModelRef): Promise<string> {
  // The contract allows plain folder names only (no separators, not ".."), so this stays inside.
  const dir = path.join(modelsDir, model.path);
  try {
    await access(path.join(dir, 'model_index.json'));
  } catch {
    throw new JobFailure(
      'MODEL_NOT_INSTALLED',
      `the model "${model.name}" is not installed on the GPU function: its folder "${model.path}" in MODELS_DIR has no model_index.json ` +
        '(install it with `npm run models:fetch -- <hugging face repo>`)',
    );
  }
  return dir;
}
