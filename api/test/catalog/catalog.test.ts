import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { MODEL_FAMILIES } from '@easel/schema';
import { Catalog } from '../../src/catalog/catalog.js';
import type { CatalogEntryFields } from '../../src/catalog/catalog-entry.js';
import { STARTER_CATALOG } from '../../src/catalog/starter.js';
import { ConflictError, InvalidInputError } from '../../src/errors.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';

useTestDatabase();
let modelsDir: string;
let catalog: Catalog;

beforeEach(async () => {
  await clearDatabase();
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'easel-models-'));
  catalog = new Catalog(modelsDir);
});

const entry = (overrides: Partial<CatalogEntryFields> = {}): CatalogEntryFields => ({
  name: 'Test XL',
  slug: 'test-xl',
  family: 'SDXL',
  tier: 'EASY',
  promptStyle: 'NATURAL',
  description: 'for tests',
  source: null,
  defaults: { width: 1024, height: 1024, steps: 30, cfgScale: 7, sampler: 'DPM++ 2M SDE Karras', clipSkip: 1 },
  allowedSizes: [{ width: 1024, height: 1024 }],
  path: 'test-xl',
  ...overrides,
});

describe('the starter catalog', () => {
  it('covers every family and the tiny demo models, with a preset per family', () => {
    const families = new Set(STARTER_CATALOG.models.map((model) => model.family));
    expect([...families].sort()).toEqual([...MODEL_FAMILIES].sort());
    expect(STARTER_CATALOG.presets.map((preset) => preset.family).sort()).toEqual([...MODEL_FAMILIES].sort());
    const tiny = STARTER_CATALOG.models.filter((model) => model.slug.startsWith('tiny-'));
    expect(tiny.map(({ slug, path, family, tier }) => ({ slug, path, family, tier }))).toEqual([
      { slug: 'tiny-sd15', path: 'tiny-sd15', family: 'SD15', tier: 'EASY' },
      { slug: 'tiny-sdxl', path: 'tiny-sdxl', family: 'SDXL', tier: 'EASY' },
    ]);
  });

  it('seeds a fresh database once, leaving admin edits alone on later starts', async () => {
    const first = await catalog.seed(STARTER_CATALOG);
    expect(first).toEqual({ models: STARTER_CATALOG.models.length, presets: MODEL_FAMILIES.length });

    await catalog.update('sdxl-base-1.0', { name: 'SDXL (edited)' });
    await catalog.retire('flux1-dev');
    await catalog.updatePreset('PONY', { qualityTags: ['score_9'] });

    expect(await catalog.seed(STARTER_CATALOG)).toEqual({ models: 0, presets: 0 });
    expect((await catalog.get('sdxl-base-1.0')).name).toBe('SDXL (edited)');
    expect((await catalog.get('flux1-dev')).retired).toBe(true);
    expect((await catalog.preset('PONY'))?.qualityTags).toEqual(['score_9']);
  });

  it('carries the families’ prompt habits', async () => {
    await catalog.seed(STARTER_CATALOG);
    const pony = await catalog.preset('PONY');
    expect(pony?.qualityTags).toEqual(['score_9', 'score_8_up', 'score_7_up']);
    expect(pony?.negativeTags).toEqual(expect.arrayContaining(['score_6', 'score_5', 'score_4']));
    expect((await catalog.preset('ILLUSTRIOUS'))?.qualityTags).toContain('very aesthetic');
    expect(await catalog.preset('FLUX')).toMatchObject({ promptStyle: 'NATURAL', qualityTags: [], negativeTags: [] });
  });
});

describe('Catalog', () => {
  it('lists models people can pick, filtered and grouped by family', async () => {
    await catalog.seed(STARTER_CATALOG);
    await catalog.retire('stable-diffusion-v1-5');
    const all = await catalog.list();
    expect(all.map((m) => m.slug)).not.toContain('stable-diffusion-v1-5');
    const order = all.map((m) => MODEL_FAMILIES.indexOf(m.family));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const easyFlux = await catalog.list({ tier: 'EASY', family: 'FLUX' });
    expect(easyFlux.map((m) => m.slug)).toEqual(['flux1-schnell']);
    expect(await catalog.find('stable-diffusion-v1-5')).toMatchObject({ retired: true });
  });

  it('finds a model by id or slug', async () => {
    const added = await catalog.add(entry());
    expect((await catalog.find(added.id))?.slug).toBe('test-xl');
    expect((await catalog.find('test-xl'))?.id).toBe(added.id);
    expect(await catalog.find('no-such-model')).toBeUndefined();
  });

  it('is installed once model_index.json is in MODELS_DIR/<path>', async () => {
    const added = await catalog.add(entry());
    expect(await catalog.isInstalled(added)).toBe(false);
    await mkdir(path.join(modelsDir, 'test-xl'));
    await writeFile(path.join(modelsDir, 'test-xl', 'model_index.json'), '{}');
    expect(await catalog.isInstalled(added)).toBe(true);
  });

  it('refuses entries the GPU function could not run, naming each problem', async () => {
    const bad = entry({
      slug: 'Bad Slug',
      path: '../etc',
      defaults: { width: 1020, height: 1024, steps: 0, cfgScale: 7, sampler: 'Euler z', clipSkip: 1 },
    });
    const error = await catalog.add(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    const message = (error as Error).message;
    expect(message).toContain('slug: "Bad Slug"');
    expect(message).toContain('path: "../etc"');
    expect(message).toContain('defaults.width: must be a multiple of 8');
    expect(message).toContain('defaults.steps');
    expect(message).toContain('unknown sampler "Euler z"');
    expect(message).toContain('1020x1024 is not among allowedSizes');
  });

  it('updates only what is given, re-checking the whole entry', async () => {
    const added = await catalog.add(entry());
    const updated = await catalog.update(added.id, { defaults: { steps: 20 }, tier: 'ADVANCED' });
    expect(updated.defaults).toEqual({ ...added.defaults, steps: 20 });
    expect(updated.tier).toBe('ADVANCED');
    await expect(catalog.update(added.id, { defaults: { width: 512 } })).rejects.toThrow(/512x1024 is not among allowedSizes/);
  });

  it('keeps slugs unique', async () => {
    await catalog.add(entry());
    await expect(catalog.add(entry({ name: 'Other' }))).rejects.toThrow(ConflictError);
    const other = await catalog.add(entry({ slug: 'other-xl' }));
    await expect(catalog.update(other.id, { slug: 'test-xl' })).rejects.toThrow(ConflictError);
  });

  it('edits a preset, cleaning its tags', async () => {
    const preset = await catalog.updatePreset('SD15', { promptStyle: 'TAGS', qualityTags: [' masterpiece ', '', 'masterpiece', 'best quality'] });
    expect(preset).toEqual({ family: 'SD15', promptStyle: 'TAGS', qualityTags: ['masterpiece', 'best quality'], negativeTags: [] });
  });

  it('refuses preset tags whose brackets would spill onto every prompt, naming each slip', async () => {
    const error = await catalog
      .updatePreset('SD15', { qualityTags: ['(masterpiece', '(best quality:1.2)'], negativeTags: ['lowres)', '(text:1.2.3)', 'blur\\ry'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    const message = (error as Error).message;
    expect(message).toContain('qualityTags: "(masterpiece" opens "(" and never closes it');
    expect(message).not.toContain('best quality');
    expect(message).toContain('negativeTags: "lowres)" has a ")" that closes nothing');
    expect(message).toContain('weight "(text:1.2.3)" that is not a number');
    expect(message).toContain('backslash that escapes nothing');
    expect(await catalog.preset('SD15')).toBeUndefined();

    const broken = { ...STARTER_CATALOG, presets: [{ family: 'SD15' as const, promptStyle: 'TAGS' as const, qualityTags: ['[worst quality'], negativeTags: [] }] };
    await expect(catalog.seed(broken)).rejects.toThrow(/"\[worst quality" opens "\[" and never closes it/);
    expect(await catalog.presets()).toEqual([]);
  });
});
