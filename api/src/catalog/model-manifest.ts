import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MODEL_FAMILIES } from '@easel/schema';

/**
 * What `npm run models:fetch` leaves in the model folder it installs: enough to register the
 * model in the catalog, then or at any later start (an in-memory database forgets it).
 */
export const MODEL_MANIFEST_FILE = 'easel-model.json';

export const ModelManifest = z.object({
  slug: z.string().min(1),
  name: z.string().min(1),
  family: z.enum(MODEL_FAMILIES),
  /** The Hugging Face repository it came from. */
  source: z.string().min(1),
  /** The revision asked for, and the commit it resolved to. */
  revision: z.string().min(1),
  commit: z.string().min(1),
});
export type ModelManifest = z.infer<typeof ModelManifest>;

export async function writeModelManifest(dir: string, manifest: ModelManifest): Promise<void> {
  await writeFile(path.join(dir, MODEL_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
}

/** The folder's manifest, or undefined when it has none (a model put there by hand). */
export async function readModelManifest(dir: string): Promise<ModelManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, MODEL_MANIFEST_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path.join(dir, MODEL_MANIFEST_FILE)} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ModelManifest.safeParse(json);
  if (!parsed.success) throw new Error(`${path.join(dir, MODEL_MANIFEST_FILE)} is not a model manifest: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
