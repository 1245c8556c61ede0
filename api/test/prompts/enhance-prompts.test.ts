import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { scanPrompt } from '@easel/schema';
import type { FamilyPreset } from '../../src/catalog/family-preset.js';
import { STARTER_CATALOG } from '../../src/catalog/starter.js';
import { enhancePrompts, prependMissingTags, type EnhancerModel } from '../../src/prompts/enhance-prompts.js';
import { splitTags } from '../../src/prompts/syntax/tags.js';
import { isScoreTag } from '../../src/prompts/vocabulary.js';
import { syntaxHeavyPrompt, tagList } from './arbitraries.js';

const preset = (family: ModelFamily): FamilyPreset => STARTER_CATALOG.presets.find((p) => p.family === family)!;
/** Each family's models in the style of its preset: anime SD 1.5, SDXL base, Illustrious, Pony, Flux. */
const model = (family: ModelFamily): EnhancerModel => ({ family, promptStyle: preset(family).promptStyle });
const enhance = (family: ModelFamily, prompt: string, negativePrompt = '') => enhancePrompts(model(family), preset(family), { prompt, negativePrompt });
const keys = (prompt: string) => splitTags(scanPrompt(prompt)).map((tag) => tag.key);

describe('the starter presets', () => {
  it('are the ones prompting guides give for each family', () => {
    expect(preset('PONY').qualityTags).toEqual(['score_9', 'score_8_up', 'score_7_up']);
    expect(preset('PONY').negativeTags).toEqual(expect.arrayContaining(['score_6', 'score_5', 'score_4']));
    expect(preset('ILLUSTRIOUS').qualityTags).toEqual(['masterpiece', 'best quality', 'amazing quality', 'very aesthetic', 'absurdres']);
    expect(preset('SD15').qualityTags).toEqual(['masterpiece', 'best quality']);
    expect(preset('SD15').negativeTags.slice(0, 3)).toEqual(['lowres', 'bad anatomy', 'bad hands']);
    expect(preset('SDXL').qualityTags.length).toBeLessThanOrEqual(3);
    expect(preset('FLUX')).toMatchObject({ qualityTags: [], negativeTags: [] });
  });
});

describe('enhancePrompts: golden examples', () => {
  it('Pony: adds the score tags it lacks in front, and the low scores to the negatives', () => {
    expect(enhance('PONY', 'score_9, 1girl, (smile:1.2)', 'blurry')).toEqual({
      prompt: 'score_8_up, score_7_up, score_9, 1girl, (smile:1.2)',
      negativePrompt: 'score_6, score_5, score_4, lowres, bad anatomy, bad hands, text, watermark, blurry',
      warnings: { prompt: [], negativePrompt: [] },
    });
  });

  it('Illustrious: adds its quality tags, and takes the score tags out with a warning', () => {
    const result = enhance('ILLUSTRIOUS', 'score_9, score_8_up, 1girl, (Best_Quality:1.1), night sky', 'score_4, lowres');
    expect(result.prompt).toBe('masterpiece, amazing quality, very aesthetic, absurdres, 1girl, (Best_Quality:1.1), night sky');
    expect(result.negativePrompt).toBe('worst quality, bad quality, bad anatomy, bad hands, jpeg artifacts, signature, watermark, text, blurry, lowres');
    expect(result.warnings.prompt.map((w) => [w.code, w.start, w.end])).toEqual([
      ['SCORE_TAG_REMOVED', 0, 7],
      ['SCORE_TAG_REMOVED', 9, 19],
    ]);
    expect(result.warnings.negativePrompt.map((w) => w.code)).toEqual(['SCORE_TAG_REMOVED']);
  });

  it('SD 1.5 anime: the classic quality tags and negatives', () => {
    const result = enhance('SD15', '1girl, cherry blossoms');
    expect(result.prompt).toBe('masterpiece, best quality, 1girl, cherry blossoms');
    expect(result.negativePrompt).toBe(preset('SD15').negativeTags.join(', '));
  });

  it('SD 1.5 base, which reads sentences: no anime tags', () => {
    const result = enhancePrompts({ family: 'SD15', promptStyle: 'NATURAL' }, preset('SD15'), { prompt: 'a photo of a cat', negativePrompt: '' });
    expect(result).toMatchObject({ prompt: 'a photo of a cat', negativePrompt: '' });
  });

  it('SDXL base: a light touch', () => {
    expect(enhance('SDXL', 'a lighthouse in a storm', 'text').prompt).toBe('high quality, detailed, a lighthouse in a storm');
    expect(enhance('SDXL', 'a lighthouse in a storm', 'text').negativePrompt).toBe('lowres, blurry, watermark, text');
  });

  it('Flux: natural language left alone, negatives too', () => {
    const prompt = 'A lighthouse on a cliff in a storm, waves crashing, score_9';
    expect(enhance('FLUX', prompt, 'blurry')).toEqual({ prompt, negativePrompt: 'blurry', warnings: { prompt: [], negativePrompt: [] } });
  });

  it('an empty prompt becomes the preset tags alone', () => {
    expect(enhance('SD15', '', '').prompt).toBe('masterpiece, best quality');
    expect(enhance('SD15', '   ', '').prompt).toBe('masterpiece, best quality');
  });

  it('takes a missing or null negative prompt as empty', () => {
    expect(enhancePrompts(model('PONY'), preset('PONY'), { prompt: 'cat', negativePrompt: null }).negativePrompt).toBe('score_6, score_5, score_4, lowres, bad anatomy, bad hands, text, watermark, blurry');
    expect(enhancePrompts(model('PONY'), preset('PONY'), { prompt: 'cat' }).negativePrompt.startsWith('score_6')).toBe(true);
  });

  it('works without a preset', () => {
    expect(enhancePrompts(model('PONY'), undefined, { prompt: 'score_9, cat' })).toMatchObject({ prompt: 'score_9, cat', negativePrompt: '' });
  });
});

describe('prependMissingTags', () => {
  it('counts a tag as present with any weight, case, or underscores, anywhere in the prompt', () => {
    const prompt = 'cat, [[Best_Quality]], BREAK (masterpiece:0.8)';
    expect(prependMissingTags(prompt, ['masterpiece', 'best quality', 'absurdres'])).toBe(`absurdres, ${prompt}`);
  });

  it('adds preset entries as written, weights included, once even when written twice', () => {
    expect(prependMissingTags('cat', ['(masterpiece:1.2)', 'best quality', 'best_quality'])).toBe('(masterpiece:1.2), best quality, cat');
    expect(prependMissingTags('masterpiece, cat', ['(masterpiece:1.2)'])).toBe('masterpiece, cat');
  });
});

describe('enhancePrompts: properties', () => {
  const family = fc.constantFrom(...MODEL_FAMILIES);
  const prompt = fc.oneof(tagList, syntaxHeavyPrompt(150));

  it('is idempotent for every family', () => {
    fc.assert(
      fc.property(family, prompt, prompt, (f, positive, negative) => {
        const once = enhance(f, positive, negative);
        const twice = enhance(f, once.prompt, once.negativePrompt);
        expect({ prompt: twice.prompt, negativePrompt: twice.negativePrompt }).toEqual({ prompt: once.prompt, negativePrompt: once.negativePrompt });
        expect(twice.warnings).toEqual({ prompt: [], negativePrompt: [] });
      }),
      { numRuns: 400 },
    );
  });

  it("keeps the user's text as written after the added tags, and never duplicates a preset tag", () => {
    fc.assert(
      fc.property(fc.constantFrom<ModelFamily>('SD15', 'SDXL', 'PONY', 'FLUX'), tagList, (f, positive) => {
        const { prompt } = enhance(f, positive);
        expect(prompt.endsWith(positive)).toBe(true);
        for (const tag of preset(f).qualityTags) {
          const before = keys(positive).filter((key) => key === keys(tag)[0]).length;
          expect(keys(prompt).filter((key) => key === keys(tag)[0])).toHaveLength(Math.max(before, 1));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('leaves no score tag in an Illustrious prompt, and every other tag in its place', () => {
    fc.assert(
      fc.property(tagList, (positive) => {
        const { prompt } = enhance('ILLUSTRIOUS', positive);
        expect(keys(prompt).some(isScoreTag)).toBe(false);
        const userTags = keys(positive).filter((key) => !isScoreTag(key));
        const enhancedKeys = keys(prompt);
        expect(enhancedKeys.slice(enhancedKeys.length - userTags.length)).toEqual(userTags);
      }),
      { numRuns: 300 },
    );
  });
});
