import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { TINY_MODEL_MARKER } from '@easel/schema';
import type { Catalog } from './catalog.js';
import { modelFolders, registerFetchedModels } from './installed-models.js';
import { STARTER_CATALOG } from './starter.js';

const exists = (file: string) => access(file).then(() => true, () => false);

/** Installed model folders that are not tiny demo models. */
export async function realModelsIn(modelsDir: string): Promise<string[]> {
  const real: string[] = [];
  for (const folder of await modelFolders(modelsDir)) {
    const dir = path.join(modelsDir, folder);
    if ((await exists(path.join(dir, 'model_index.json'))) && !(await exists(path.join(dir, TINY_MODEL_MARKER)))) real.push(folder);
  }
  return real;
}

export interface PrepareModelsOptions {
  catalog: Catalog;
  modelsDir: string;
  logger: Logger;
  /** Development: with no real model, install the tiny ones so generation works out of the box. */
  demoModels: boolean;
}

/**
 * At start: registers models fetched into MODELS_DIR that the catalog lacks, and in development,
 * when no real model is installed, writes the tiny demo models and makes sure the catalog lists
 * them. Returns the slugs of the demo models installed (none when a real model is there).
 */
export async function prepareModels({ catalog, modelsDir, logger, demoModels }: PrepareModelsOptions): Promise<string[]> {
  const { added, failed } = await registerFetchedModels(catalog, modelsDir);
  for (const model of added) logger.info({ slug: model.slug, source: model.source }, 'registered a fetched model in the catalog');
  for (const { folder, reason } of failed) logger.warn({ folder, reason }, 'could not register a fetched model');
  if (!demoModels || (await realModelsIn(modelsDir)).length > 0) return [];

  // Development only: the writer (and its ONNX protobuf encoder) is loaded when demo models are wanted.
  const { makeTinyModels } = await import('@easel/gpu-runtime/tiny-models');
  const written = await makeTinyModels(modelsDir);
  const slugs = Object.keys(written);
  await catalog.seed({ presets: [], models: STARTER_CATALOG.models.filter((entry) => slugs.includes(entry.path)) });
  logger.warn(
    { modelsDir, models: slugs },
    'No real model is installed, so the tiny demo models are: they run the whole pipeline in seconds, but their images are noise. ' +
      'Fetch a real model with `npm run models:fetch -- <hugging face repo>` (an ONNX export, e.g. `npm run models:fetch -- stabilityai/stable-diffusion-xl-base-1.0`).',
  );
  return slugs;
}
