import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ModelFamily } from '@easel/schema';
import type { Catalog, CatalogModel } from './catalog.js';
import type { CatalogEntryFields } from './catalog-entry.js';
import { readModelManifest, type ModelManifest } from './model-manifest.js';
import { STARTER_CATALOG } from './starter.js';

/**
 * Catalog entries for models fetched from the Hub. A new entry starts from the starter catalog's
 * public model of the same family (sizes, steps, sampler, clip skip), which an admin can edit.
 */
function template(family: ModelFamily): CatalogEntryFields {
  const model = STARTER_CATALOG.models.find((entry) => entry.family === family && entry.source);
  if (!model) throw new Error(`the starter catalog has no ${family} model to take defaults from`);
  return model;
}

/** The starter catalog's entry for a Hub repository, so fetching it fills that entry rather than adding a twin. */
export function starterEntryForSource(source: string): CatalogEntryFields | undefined {
  return STARTER_CATALOG.models.find((entry) => entry.source === source);
}

/**
 * Adds the model to the catalog, or points the entry with its slug at it (un-retiring it, keeping
 * what an admin set). Returns the entry and whether it is new.
 */
export async function registerModel(catalog: Catalog, manifest: ModelManifest): Promise<{ model: CatalogModel; created: boolean }> {
  const existing = await catalog.find(manifest.slug);
  if (existing) {
    const model = await catalog.update(existing.id, { path: manifest.slug, source: manifest.source, family: manifest.family, retired: false });
    return { model, created: false };
  }
  const { defaults, allowedSizes, tier, promptStyle } = template(manifest.family);
  const model = await catalog.add({
    name: manifest.name,
    slug: manifest.slug,
    family: manifest.family,
    tier,
    promptStyle,
    description: `Fetched from Hugging Face: ${manifest.source} (${manifest.revision}, commit ${manifest.commit.slice(0, 12)}).`,
    source: manifest.source,
    defaults,
    allowedSizes,
    path: manifest.slug,
  });
  return { model, created: true };
}

/**
 * Registers every fetched model in MODELS_DIR that the catalog lacks: a fetch made while Easel
 * was stopped, or an in-memory database that started empty. Entries already there are left alone.
 * A folder that cannot be registered (a hand-edited manifest) is reported, not fatal.
 */
export async function registerFetchedModels(
  catalog: Catalog,
  modelsDir: string,
): Promise<{ added: CatalogModel[]; failed: { folder: string; reason: string }[] }> {
  const added: CatalogModel[] = [];
  const failed: { folder: string; reason: string }[] = [];
  for (const folder of await modelFolders(modelsDir)) {
    try {
      const manifest = await readModelManifest(path.join(modelsDir, folder));
      if (!manifest || (await catalog.find(manifest.slug))) continue;
      added.push((await registerModel(catalog, manifest)).model);
    } catch (error) {
      failed.push({ folder, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { added, failed };
}

/** Folders of MODELS_DIR, without the hidden ones (downloads in progress live in `.downloads`). */
export async function modelFolders(modelsDir: string): Promise<string[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
}
