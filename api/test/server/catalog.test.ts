import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLER_OPTIONS } from '@easel/schema';
import { codes, useTestServer } from '../support/server.js';

const server = useTestServer();
const admin = () => ({ key: server().admin.key });

const NEW_MODEL = `mutation Add($input: AddModelInput!) {
  addModel(input: $input) { id slug family tier defaults { width height sampler } installed retired }
}`;

const newModel = (overrides: Record<string, unknown> = {}) => ({
  input: {
    name: 'My Anime XL',
    slug: 'my-anime-xl',
    family: 'ILLUSTRIOUS',
    tier: 'ADVANCED',
    promptStyle: 'TAGS',
    defaults: { width: 832, height: 1216, steps: 28, cfgScale: 6, sampler: 'Euler a', clipSkip: 2 },
    allowedSizes: [
      { width: 832, height: 1216 },
      { width: 1024, height: 1024 },
    ],
    path: 'my-anime-xl',
    ...overrides,
  },
});

describe('catalog queries', () => {
  it('starts with the starter catalog: every family, installed only when files exist', async () => {
    const response = await server().graphql('{ models { slug family tier installed retired preset { family } } }');
    const models = response.data?.models as { slug: string; family: string; installed: boolean; retired: boolean; preset: { family: string } }[];
    expect(new Set(models.map((m) => m.family))).toEqual(new Set(['SD15', 'SDXL', 'ILLUSTRIOUS', 'PONY', 'FLUX']));
    expect(models.every((m) => !m.installed && !m.retired && m.preset.family === m.family)).toBe(true);

    await mkdir(path.join(server().modelsDir, 'tiny-sd15'), { recursive: true });
    await writeFile(path.join(server().modelsDir, 'tiny-sd15', 'model_index.json'), '{}');
    const tiny = await server().graphql('{ model(id: "tiny-sd15") { name installed description } }');
    expect(tiny.data?.model).toMatchObject({ installed: true, description: expect.stringMatching(/noise/) });
  });

  it('filters by tier and family', async () => {
    const easy = await server().graphql('{ models(tier: EASY) { tier } }');
    expect(easy.data?.models.length).toBeGreaterThan(0);
    expect(easy.data?.models.every((m: { tier: string }) => m.tier === 'EASY')).toBe(true);
    const pony = await server().graphql('{ models(family: PONY) { slug defaults { clipSkip } } }');
    expect(pony.data?.models).toEqual([{ slug: 'pony-diffusion-v6-xl', defaults: { clipSkip: 2 } }]);
  });

  it('finds a model by id or slug, and gives null for neither', async () => {
    const bySlug = await server().graphql('{ model(id: "sdxl-base-1.0") { id defaults { width height } } }');
    expect(bySlug.data?.model.defaults).toEqual({ width: 1024, height: 1024 });
    const byId = await server().graphql(`{ model(id: "${bySlug.data?.model.id}") { slug } }`);
    expect(byId.data?.model.slug).toBe('sdxl-base-1.0');
    expect((await server().graphql('{ model(id: "no-such-model") { slug } }')).data?.model).toBeNull();
  });

  it('lists the samplers with the recommended ones marked', async () => {
    const response = await server().graphql('{ samplers { label sampler schedule recommended } }');
    expect(response.data?.samplers).toHaveLength(SAMPLER_OPTIONS.length);
    const recommended = response.data?.samplers.filter((s: { recommended: boolean }) => s.recommended).map((s: { label: string }) => s.label);
    expect(recommended.sort()).toEqual(['DPM++ 2M SDE Karras', 'Euler a']);
    expect(response.data?.samplers).toContainEqual({ label: 'DPM++ 2M SDE Karras', sampler: 'dpmpp_2m_sde', schedule: 'karras', recommended: true });
  });

  it('serves the family presets', async () => {
    const response = await server().graphql('{ familyPresets { family promptStyle qualityTags negativeTags } }');
    const illustrious = response.data?.familyPresets.find((p: { family: string }) => p.family === 'ILLUSTRIOUS');
    expect(illustrious.qualityTags).toEqual(['masterpiece', 'best quality', 'amazing quality', 'very aesthetic', 'absurdres']);
  });
});

describe('catalog administration', () => {
  it('adds, updates and retires a model', async () => {
    const added = await server().graphql(NEW_MODEL, { ...admin(), variables: newModel() });
    expect(added.errors).toBeUndefined();
    const { id } = added.data?.addModel;
    expect(added.data?.addModel).toMatchObject({ slug: 'my-anime-xl', installed: false, retired: false });

    const updated = await server().graphql(
      `mutation { updateModel(id: "${id}", input: { tier: EASY, defaults: { width: 1024, height: 1024 } }) { tier defaults { width height steps } } }`,
      admin(),
    );
    expect(updated.data?.updateModel).toEqual({ tier: 'EASY', defaults: { width: 1024, height: 1024, steps: 28 } });

    await server().graphql(`mutation { retireModel(id: "${id}") { retired } }`, admin());
    const listed = await server().graphql('{ models { slug } }');
    expect(listed.data?.models.map((m: { slug: string }) => m.slug)).not.toContain('my-anime-xl');
    expect((await server().graphql(`{ model(id: "${id}") { retired } }`)).data?.model.retired).toBe(true);
  });

  it('explains what is wrong with a bad model, with BAD_USER_INPUT', async () => {
    const badSlug = await server().graphql(NEW_MODEL, { ...admin(), variables: newModel({ slug: 'My Model!' }) });
    expect(codes(badSlug)).toEqual(['BAD_USER_INPUT']);
    expect(badSlug.errors?.[0].message).toMatch(/slug must be lowercase letters and digits/);

    const badDefaults = await server().graphql(NEW_MODEL, {
      ...admin(),
      variables: newModel({ slug: 'other', defaults: { width: 832, height: 1216, steps: 500, cfgScale: 6, sampler: 'Euler b' } }),
    });
    expect(codes(badDefaults)).toEqual(['BAD_USER_INPUT']);
    expect(badDefaults.errors?.[0].message).toMatch(/defaults\.steps/);
    expect(badDefaults.errors?.[0].message).toMatch(/unknown sampler "Euler b"/);

    const wrongType = await server().graphql(NEW_MODEL, { ...admin(), variables: newModel({ family: 'SD3' }) });
    expect(codes(wrongType)).toEqual(['BAD_USER_INPUT']);
    expect(wrongType.errors?.[0].message).toMatch(/SD3/);
  });

  it('refuses a taken slug with CONFLICT and an unknown model with NOT_FOUND', async () => {
    const taken = await server().graphql(NEW_MODEL, { ...admin(), variables: newModel({ slug: 'sdxl-base-1.0' }) });
    expect(codes(taken)).toEqual(['CONFLICT']);
    const missing = await server().graphql('mutation { retireModel(id: "no-such-model") { id } }', admin());
    expect(codes(missing)).toEqual(['NOT_FOUND']);
  });

  it('edits a family preset', async () => {
    const response = await server().graphql(
      'mutation { updateFamilyPreset(family: SDXL, input: { qualityTags: ["sharp focus", " detailed "] }) { qualityTags negativeTags } }',
      admin(),
    );
    expect(response.data?.updateFamilyPreset.qualityTags).toEqual(['sharp focus', 'detailed']);
    expect(response.data?.updateFamilyPreset.negativeTags).toContain('watermark');
  });

  it('refuses a preset tag with unbalanced brackets with BAD_USER_INPUT, changing nothing', async () => {
    const presets = '{ familyPresets { family promptStyle qualityTags negativeTags } }';
    const before = await server().graphql(presets);
    const response = await server().graphql(
      'mutation { updateFamilyPreset(family: ILLUSTRIOUS, input: { promptStyle: NATURAL, qualityTags: ["(masterpiece", "best quality"] }) { qualityTags } }',
      admin(),
    );
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0].message).toMatch(/"\(masterpiece" opens "\(" and never closes it/);
    expect((await server().graphql(presets)).data).toEqual(before.data);
  });
});
