import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { serializeAttention } from '@easel/schema';
import { A1111_ATTENTION_EXAMPLES } from '@easel/schema/testing/a1111-examples';
import { STARTER_CATALOG } from '../../src/catalog/starter.js';
import { InvalidInputError } from '../../src/errors.js';
import { analyzePrompts } from '../../src/prompts/analyze-prompt.js';
import { ESTIMATED_COUNTER } from '../../src/prompts/token-counter.js';
import { anyPrompt, longPrompt, syntaxHeavyPrompt } from './arbitraries.js';

const preset = (family: ModelFamily) => STARTER_CATALOG.presets.find((p) => p.family === family)!;
const analyze = (family: ModelFamily, prompt: string, negativePrompt?: string | null) =>
  analyzePrompts({ family, promptStyle: preset(family).promptStyle }, preset(family), ESTIMATED_COUNTER, { prompt, negativePrompt });

describe('analyzePrompts: segments, with A1111 parity', () => {
  it.each<[string, Array<[string, number]>]>([
    ...A1111_ATTENTION_EXAMPLES,
    ['1girl BREAK (red:1.2) (hair:1.2)', [['1girl', 1], ['BREAK', -1], ['red', 1.2], [' ', 1], ['hair', 1.2]]],
  ])('%s', (prompt, expected) => {
    expect(analyze('SD15', prompt).prompt.segments).toEqual(expected.map(([text, weight]) => ({ text, weight })));
  });
});

describe('analyzePrompts', () => {
  it('counts tokens, lints, and shows what the enhancer sends', () => {
    const analysis = analyze('ILLUSTRIOUS', 'score_9, 1girl, Smile', 'lowres, lowres');
    expect(analysis.prompt).toMatchObject({ tokenCount: expect.any(Number), chunks: 1, tokenLimit: 75, tokenCountSource: 'ESTIMATE' });
    expect(analysis.prompt.warnings.map((w) => w.code)).toEqual(['SCORE_TAG_NOT_PONY', 'UPPERCASE_TAG']);
    expect(analysis.negativePrompt?.warnings.map((w) => w.code)).toEqual(['DUPLICATE_TAG']);
    expect(analysis.enhancedPrompt).toBe('masterpiece, best quality, amazing quality, very aesthetic, absurdres, 1girl, Smile');
    expect(analysis.enhancedNegativePrompt.endsWith('blurry, lowres, lowres')).toBe(true);
  });

  it('gives no negative analysis without a negative prompt, yet the enhanced negatives', () => {
    const analysis = analyze('PONY', 'score_9, 1girl', null);
    expect(analysis.negativePrompt).toBeNull();
    expect(analysis.enhancedNegativePrompt.startsWith('score_6, score_5, score_4')).toBe(true);
  });

  it('refuses prompts over 10,000 characters, the limit of a generation', () => {
    expect(() => analyze('SDXL', 'a'.repeat(10_000))).not.toThrow();
    expect(() => analyze('SDXL', 'a'.repeat(10_001))).toThrow(InvalidInputError);
    expect(() => analyze('SDXL', 'cat', 'b'.repeat(10_001))).toThrow(/negativePrompt is 10001 characters long; the limit is 10000/);
  });

  it('never throws on any prompt up to 10,000 characters, for any family', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODEL_FAMILIES), anyPrompt, anyPrompt, (family, prompt, negativePrompt) => {
        const analysis = analyze(family, prompt, negativePrompt);
        expect(analysis.prompt.chunks).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...MODEL_FAMILIES), longPrompt, (family, prompt) => {
        expect(analyze(family, prompt, prompt).prompt.tokenCount).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 15 },
    );
  });

  it('gives back the same segments for its segments written out again', () => {
    fc.assert(
      fc.property(syntaxHeavyPrompt(), (prompt) => {
        const { segments } = analyze('SD15', prompt).prompt;
        expect(analyze('SD15', serializeAttention(segments)).prompt.segments).toEqual(segments);
      }),
      { numRuns: 300 },
    );
  });
});
