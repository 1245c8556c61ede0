import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODEL_FAMILIES } from '@easel/schema';
import { LINT_RULES, lintPrompt, type LintOptions } from '../../src/prompts/lint/lint-prompt.js';
import { PromptWarningCode, type PromptWarning } from '../../src/prompts/warnings.js';
import { anyPrompt, syntaxHeavyPrompt } from './arbitraries.js';

const ILLUSTRIOUS: LintOptions = { family: 'ILLUSTRIOUS', promptStyle: 'TAGS' };
const PONY: LintOptions = { family: 'PONY', promptStyle: 'TAGS' };
const FLUX: LintOptions = { family: 'FLUX', promptStyle: 'NATURAL' };
const SDXL: LintOptions = { family: 'SDXL', promptStyle: 'NATURAL' };

interface Case {
  code: PromptWarningCode;
  options: LintOptions;
  /** Triggers the code once; `flagged` is the text at the warning's start..end. */
  triggers: string;
  flagged: string;
  /** What putting the replacement in place gives, when the warning has one. */
  fixed?: string;
  /** A close call that must not trigger it. */
  passes: string;
}

const CASES: Case[] = [
  { code: 'MISSING_COMMA', options: ILLUSTRIOUS, triggers: 'masterpiece best quality, cat', flagged: 'masterpiece best', fixed: 'masterpiece, best quality, cat', passes: 'masterpiece, best quality, long hair, looking at viewer' },
  { code: 'MISSING_COMMA', options: ILLUSTRIOUS, triggers: '(red hair) blue eyes', flagged: 'hair) blue', fixed: '(red hair), blue eyes', passes: '(red hair), blue eyes, (smile)s' },
  { code: 'MISSING_COMMA', options: ILLUSTRIOUS, triggers: 'cat\nsofa', flagged: 'cat\nsofa', fixed: 'cat,\nsofa', passes: 'cat,\nsofa' },
  { code: 'MISSING_COMMA', options: ILLUSTRIOUS, triggers: '1girl solo, smile', flagged: '1girl solo', fixed: '1girl, solo, smile', passes: '1girl, solo focus, smile' },
  { code: 'UPPERCASE_TAG', options: ILLUSTRIOUS, triggers: 'Long Hair, smile', flagged: 'Long Hair', fixed: 'long hair, smile', passes: 'long hair, smile, <lora:MyStyle:0.8>' },
  { code: 'DUPLICATE_TAG', options: ILLUSTRIOUS, triggers: 'long_hair, smile, (Long hair:1.2)', flagged: ', (Long hair:1.2)', fixed: 'long_hair, smile', passes: 'long hair, hair, long' },
  { code: 'DUPLICATE_TAG', options: ILLUSTRIOUS, triggers: 'cat, dog, cat, bird', flagged: 'cat, ', fixed: 'cat, dog, bird', passes: 'cat, dog, cats, bird' },
  { code: 'MALFORMED_WEIGHT', options: ILLUSTRIOUS, triggers: 'cat, (smile:1,2)', flagged: '(smile:1,2)', fixed: 'cat, (smile:1.2)', passes: 'cat, (smile:1.2), (time: 12:30)' },
  { code: 'MALFORMED_WEIGHT', options: ILLUSTRIOUS, triggers: '(smile 1.2), cat', flagged: '(smile 1.2)', fixed: '(smile:1.2), cat', passes: '(smile: 1.2), cat, (2 cats)' },
  { code: 'MALFORMED_WEIGHT', options: ILLUSTRIOUS, triggers: '(smile::1.2)', flagged: '(smile::1.2)', fixed: '(smile:1.2)', passes: '(smile : 1.2)' },
  { code: 'MALFORMED_WEIGHT', options: ILLUSTRIOUS, triggers: 'smile:1.2, cat', flagged: 'smile:1.2', fixed: '(smile:1.2), cat', passes: 'ratio 16:9, cat, <lora:name:0.8>' },
  { code: 'MALFORMED_WEIGHT', options: ILLUSTRIOUS, triggers: '(smile:1.2.3)', flagged: '(smile:1.2.3)', passes: '(smile:.5)' },
  { code: 'UNBALANCED_BRACKETS', options: ILLUSTRIOUS, triggers: '((smile), cat', flagged: '(', passes: '((smile)), cat' },
  { code: 'UNBALANCED_BRACKETS', options: ILLUSTRIOUS, triggers: 'smile), cat', flagged: ')', fixed: 'smile, cat', passes: 'smile \\(happy\\), cat' },
  { code: 'UNBALANCED_BRACKETS', options: ILLUSTRIOUS, triggers: '(a [b) c]', flagged: '[b)', passes: '(a [b] c)' },
  { code: 'LONE_BACKSLASH', options: ILLUSTRIOUS, triggers: 'cat\\dog', flagged: '\\', passes: 'cat \\\\ dog \\(x\\)' },
  { code: 'WEIGHT_OUT_OF_RANGE', options: ILLUSTRIOUS, triggers: 'cat, (smile:2.5)', flagged: '(smile:2.5)', fixed: 'cat, (smile:2.0)', passes: 'cat, (smile:2.0), (dog:0.1)' },
  { code: 'WEIGHT_OUT_OF_RANGE', options: ILLUSTRIOUS, triggers: '((((((((smile))))))))', flagged: '((((((((smile))))))))', fixed: '(smile:2.0)', passes: '(((((((smile)))))))' },
  { code: 'WEIGHT_OUT_OF_RANGE', options: ILLUSTRIOUS, triggers: '((a:1.5), b:1.5)', flagged: '(a:1.5)', passes: '((a:1.3), b:1.5)' },
  { code: 'WEIGHT_OUT_OF_RANGE', options: ILLUSTRIOUS, triggers: '(smile:0.05)', flagged: '(smile:0.05)', fixed: '(smile:0.1)', passes: '[[[[[smile]]]]]' },
  { code: 'SCORE_TAG_NOT_PONY', options: ILLUSTRIOUS, triggers: 'score_9, 1girl', flagged: 'score_9, ', fixed: '1girl', passes: 'score, 1girl, scored 9' },
  { code: 'SCORE_TAG_NOT_PONY', options: SDXL, triggers: 'a cat, score_8_up', flagged: ', score_8_up', fixed: 'a cat', passes: 'a cat' },
  { code: 'TAG_STYLE_PROMPT', options: FLUX, triggers: '1girl, solo, long hair, smile', flagged: '1girl, solo, long hair, smile', passes: 'A girl with long hair smiles at the viewer, soft light' },
  { code: 'TAG_STYLE_PROMPT', options: FLUX, triggers: 'red car, city street, night, neon, rain', flagged: 'red car, city street, night, neon, rain', passes: 'A red car on a city street at night. Neon signs glow through the rain.' },
  { code: 'MULTIPLE_CHARACTERS', options: ILLUSTRIOUS, triggers: 'masterpiece, 2girls, park', flagged: '2girls', passes: 'masterpiece, 1girl, 1girl, park' },
  { code: 'MULTIPLE_CHARACTERS', options: ILLUSTRIOUS, triggers: '1girl, smile, 1boy', flagged: '1boy', passes: '1girl, multiple views' },
  { code: 'MULTIPLE_CHARACTERS', options: ILLUSTRIOUS, triggers: '1girl, (smile:1.2) 2girls', flagged: '2girls', passes: '1girl, (smile:1.2) 1girl, long hair multiple views' },
  { code: 'MULTIPLE_CHARACTERS', options: ILLUSTRIOUS, triggers: '1girl, (1boy:1.2) smile', flagged: '1boy', passes: '1girl, (girl:1.2) smile, 2 cats' },
  { code: 'MULTIPLE_CHARACTERS', options: ILLUSTRIOUS, triggers: '1girl, long hair multiple girls', flagged: 'multiple girls', passes: 'solo, long hair multiple girlfriends' },
  {
    code: 'TOO_MANY_QUALITY_TAGS',
    options: ILLUSTRIOUS,
    triggers: 'masterpiece, best quality, amazing quality, very aesthetic, absurdres, highres, ultra detailed, 8k, cat',
    flagged: '8k',
    passes: 'masterpiece, best quality, amazing quality, very aesthetic, absurdres, highres, ultra detailed, cat, best_quality',
  },
];

const only = (warnings: PromptWarning[], code: PromptWarningCode) => warnings.filter((w) => w.code === code);

describe('lintPrompt', () => {
  it('has a case for every code it can give', () => {
    const linterCodes = new Set(LINT_RULES.map((rule) => rule.code));
    expect(new Set(CASES.map((c) => c.code))).toEqual(linterCodes);
    expect([...linterCodes].every((code) => code in PromptWarningCode)).toBe(true);
  });

  describe.each(CASES)('$code: $triggers', ({ code, options, triggers, flagged, fixed, passes }) => {
    it('warns, pointing at the problem, with a message and a suggestion', () => {
      const [warning, ...more] = only(lintPrompt(triggers, options), code);
      expect(more).toEqual([]);
      expect(triggers.slice(warning.start!, warning.end!)).toBe(flagged);
      expect(warning.message).toMatch(/\w.*\.$/);
      expect(warning.suggestion).toMatch(/\w/);
    });

    it(fixed === undefined ? 'offers no single replacement' : 'offers a replacement that fixes it', () => {
      const [warning] = only(lintPrompt(triggers, options), code);
      if (fixed === undefined) {
        expect(warning.replacement).toBeNull();
        return;
      }
      const result = triggers.slice(0, warning.start!) + warning.replacement + triggers.slice(warning.end!);
      expect(result).toBe(fixed);
      expect(only(lintPrompt(result, options), code)).toEqual([]);
    });

    it('stays quiet on a close call', () => {
      expect(only(lintPrompt(passes, options), code)).toEqual([]);
    });
  });

  it('lists warnings in the order of where they start', () => {
    const warnings = lintPrompt('Cat, (dog:3), score_9, cat', ILLUSTRIOUS);
    expect(warnings.map((w) => w.code)).toEqual(['UPPERCASE_TAG', 'WEIGHT_OUT_OF_RANGE', 'SCORE_TAG_NOT_PONY', 'DUPLICATE_TAG']);
  });

  it('leaves score tags alone on Pony', () => {
    expect(lintPrompt('score_9, score_8_up, score_7_up, 1girl', PONY)).toEqual([]);
  });

  it('reads tag-writing rules only for tag-style models', () => {
    const sentence = 'A Photo of a cat\nsitting on a sofa (soft light) at home';
    expect(lintPrompt(sentence, SDXL)).toEqual([]);
    expect(lintPrompt(sentence, { family: 'SDXL', promptStyle: 'TAGS' }).map((w) => w.code)).toContain('MISSING_COMMA');
  });

  it('allows in a negative prompt what belongs there', () => {
    const negative = 'worst quality, low quality, normal quality, lowres, bad quality, jpeg artifacts, highres, absurdres, 8k, multiple girls, 2boys';
    expect(lintPrompt(negative, { ...ILLUSTRIOUS, isNegative: true })).toEqual([]);
    expect(lintPrompt('1girl, solo, long hair', { ...FLUX, isNegative: true })).toEqual([]);
    expect(lintPrompt('lowres, lowres, (text:1,2)', { ...ILLUSTRIOUS, isNegative: true }).map((w) => w.code)).toEqual(['DUPLICATE_TAG', 'MALFORMED_WEIGHT']);
  });

  it("counts the family preset's own quality tags as quality tags", () => {
    const prompt = 'masterpiece, best quality, absurdres, highres, 8k, hdr, uhd, shiny style, cat';
    expect(only(lintPrompt(prompt, ILLUSTRIOUS), 'TOO_MANY_QUALITY_TAGS')).toEqual([]);
    expect(only(lintPrompt(prompt, { ...ILLUSTRIOUS, qualityTags: ['Shiny_Style'] }), 'TOO_MANY_QUALITY_TAGS')).toHaveLength(1);
  });

  it('never throws, and every position lies within the prompt, on any input up to 10,000 characters', () => {
    const options = fc.record({
      family: fc.constantFrom(...MODEL_FAMILIES),
      promptStyle: fc.constantFrom('TAGS' as const, 'NATURAL' as const),
      isNegative: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.oneof(anyPrompt, syntaxHeavyPrompt(400)), options, (prompt, lintOptions) => {
        for (const warning of lintPrompt(prompt, lintOptions)) {
          expect(0 <= warning.start! && warning.start! <= warning.end! && warning.end! <= prompt.length).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});
