import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { CatalogEntryModel } from '../../src/catalog/catalog-entry.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { prepareModels, realModelsIn } from '../../src/catalog/demo-models.js';
import { registerFetchedModels, registerModel } from '../../src/catalog/installed-models.js';
import { writeModelManifest, type ModelManifest } from '../../src/catalog/model-manifest.js';
import { STARTER_CATALOG } from '../../src/catalog/starter.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';

useTestDatabase();

let root: string;
let modelsDir: string;
let catalog: Catalog;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-installed-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));
beforeEach(async () => {
  await clearDatabase();
  modelsDir = await mkdtemp(path.join(root, 'models-'));
  catalog = new Catalog(modelsDir);
});

const manifest = (overrides: Partial<ModelManifest> = {}): ModelManifest => ({
  slug: 'dreamshaper-8',
  name: 'DreamShaper 8',
  family: 'SD15',
  source: 'someone/dreamshaper-8-onnx',
  revision: 'main',
  commit: 'c0ffee'.repeat(6) + 'c0ff',
  ...overrides,
});

/** A model folder as models:fetch leaves it (the files the tests here look at). */
async function fetchedFolder(m: ModelManifest): Promise<string> {
  const dir = path.join(modelsDir, m.slug);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model_index.json'), '{"_class_name":"StableDiffusionPipeline"}');
  await writeModelManifest(dir, m);
  return dir;
}

function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('registering a fetched model', () => {
  test('a new slug becomes an entry with its family defaults, pointing at its folder', async () => {
    const { model, created } = await registerModel(catalog, manifest({ family: 'PONY', slug: 'my-pony' }));
    expect(created).toBe(true);
    const pony = STARTER_CATALOG.models.find((entry) => entry.family === 'PONY' && entry.source)!;
    expect(model).toMatchObject({
      slug: 'my-pony',
      name: 'DreamShaper 8',
      family: 'PONY',
      path: 'my-pony',
      source: 'someone/dreamshaper-8-onnx',
      defaults: pony.defaults,
      allowedSizes: pony.allowedSizes,
      retired: false,
    });
    expect(model.description).toContain('someone/dreamshaper-8-onnx');
  });

  test('an existing slug is pointed at the download and un-retired, keeping what an admin set', async () => {
    await catalog.seed(STARTER_CATALOG);
    const before = await catalog.update('sdxl-base-1.0', { name: 'SDXL (house settings)', defaults: { steps: 40 } });
    await catalog.retire(before.id);
    const { model, created } = await registerModel(
      catalog,
      manifest({ slug: 'sdxl-base-1.0', family: 'SDXL', source: 'stabilityai/stable-diffusion-xl-base-1.0' }),
    );
    expect(created).toBe(false);
    expect(model).toMatchObject({ id: before.id, name: 'SDXL (house settings)', retired: false, path: 'sdxl-base-1.0' });
    expect(model.defaults.steps).toBe(40);
    expect(await CatalogEntryModel.countDocuments({ slug: 'sdxl-base-1.0' })).toBe(1);
  });

  test('at start, fetched folders the catalog lacks are registered; the rest is left alone', async () => {
    await fetchedFolder(manifest());
    await fetchedFolder(manifest({ slug: 'already-there', name: 'Old name' }));
    await registerModel(catalog, manifest({ slug: 'already-there', name: 'Old name' }));
    await catalog.update('already-there', { name: 'Renamed by an admin' });
    await mkdir(path.join(modelsDir, 'by-hand'));
    await writeFile(path.join(modelsDir, 'by-hand', 'model_index.json'), '{}');
    await mkdir(path.join(modelsDir, '.downloads', 'half-done'), { recursive: true });
    await writeModelManifest(path.join(modelsDir, '.downloads', 'half-done'), manifest({ slug: 'half-done' }));

    await mkdir(path.join(modelsDir, 'hand-edited'));
    await writeFile(path.join(modelsDir, 'hand-edited', 'easel-model.json'), '{"slug": "Not A Slug"');

    const { added, failed } = await registerFetchedModels(catalog, modelsDir);
    expect(added.map((model) => model.slug)).toEqual(['dreamshaper-8']);
    expect(failed).toEqual([{ folder: 'hand-edited', reason: expect.stringMatching(/easel-model\.json is not valid JSON/) }]);
    expect((await catalog.get('already-there')).name).toBe('Renamed by an admin');
    expect(await catalog.find('half-done')).toBeUndefined();
  });
});

describe('demo models at start', () => {
  test('with no real model, the tiny models are written and listed, and the log says their images are noise', async () => {
    const { logger, lines } = logCapture();
    const installed = await prepareModels({ catalog, modelsDir, logger, demoModels: true });
    expect(installed.sort()).toEqual(['tiny-flux', 'tiny-sd15', 'tiny-sdxl']);
    expect((await readdir(modelsDir)).sort()).toEqual(['tiny-flux', 'tiny-sd15', 'tiny-sdxl']);
    for (const slug of installed) {
      const model = await catalog.get(slug);
      expect(await catalog.isInstalled(model)).toBe(true);
    }
    const warning = lines.find((line) => line.level === 40)!;
    expect(warning.msg).toMatch(/images are noise/);
    expect(warning.msg).toContain('npm run models:fetch -- <hugging face repo>');
    expect(await realModelsIn(modelsDir)).toEqual([]);
  });

  test('a real model installed: no demo models, and the fetched one is registered', async () => {
    await fetchedFolder(manifest());
    const { logger, lines } = logCapture();
    expect(await prepareModels({ catalog, modelsDir, logger, demoModels: true })).toEqual([]);
    expect(await readdir(modelsDir)).toEqual(['dreamshaper-8']);
    expect(await catalog.find('dreamshaper-8')).toBeDefined();
    expect(lines.some((line) => line.msg === 'registered a fetched model in the catalog')).toBe(true);
  });

  test('in production nothing is written', async () => {
    expect(await prepareModels({ catalog, modelsDir, logger: pino({ level: 'silent' }), demoModels: false })).toEqual([]);
    expect(await readdir(modelsDir)).toEqual([]);
  });
});
