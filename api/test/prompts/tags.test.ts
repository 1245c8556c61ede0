import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanPrompt } from '@easel/schema';
import { removalSpan, splitTags, tagKey } from '../../src/prompts/syntax/tags.js';
import { syntaxHeavyPrompt, tagList } from './arbitraries.js';

const tagsOf = (prompt: string) => splitTags(scanPrompt(prompt));

describe('splitTags', () => {
  it('splits on commas and BREAKs at any depth, and knows where each tag is written', () => {
    const prompt = 'masterpiece, (red hair, blue eyes:1.2) BREAK \\(smile\\),, [sky]';
    const tags = tagsOf(prompt);
    expect(tags.map((tag) => tag.text)).toEqual(['masterpiece', 'red hair', 'blue eyes', '(smile)', 'sky']);
    expect(tags.map((tag) => prompt.slice(tag.textStart, tag.textEnd))).toEqual(['masterpiece', 'red hair', 'blue eyes', '\\(smile\\)', 'sky']);
    expect(tags.map((tag) => prompt.slice(tag.start, tag.end))).toEqual(['masterpiece', 'red hair', 'blue eyes', '\\(smile\\)', '[sky]']);
    expect(tags.map((tag) => tag.weights)).toEqual([[1], [1.2], [1.2], [1], [1 / 1.1]]);
  });

  it('takes in the brackets that hold only the tag, and what they multiply it by', () => {
    const prompt = '(( cat )), ((dog:1.5)), (a, b)';
    const tags = tagsOf(prompt);
    expect(tags.map((tag) => prompt.slice(tag.start, tag.end))).toEqual(['(( cat ))', '((dog:1.5))', 'a', 'b']);
    expect(tags.map((tag) => tag.ownWeight)).toEqual([1.1 * 1.1, 1.5 * 1.1, 1, 1]);
  });

  it('gives the same key to a tag however it is written', () => {
    expect(new Set(['Long_Hair', 'long  hair', ' long hair ', 'LONG HAIR'].map(tagKey))).toEqual(new Set(['long hair']));
    expect(tagsOf('(long_hair:1.3)')[0].key).toBe('long hair');
    expect(tagKey('score_8_up')).toBe('score 8 up');
  });

  it('finds no tags in an empty prompt or one of only separators', () => {
    for (const prompt of ['', '  ', ', ,', '()', 'BREAK', '[ ], BREAK ,']) expect(tagsOf(prompt)).toEqual([]);
  });

  it('keeps every tag within the prompt, in order, with its text inside its span', () => {
    fc.assert(
      fc.property(syntaxHeavyPrompt(), (prompt) => {
        let previousEnd = 0;
        for (const tag of tagsOf(prompt)) {
          expect(tag.text).not.toBe('');
          expect(tag.start).toBeGreaterThanOrEqual(previousEnd);
          expect(tag.start <= tag.textStart && tag.textStart < tag.textEnd && tag.textEnd <= tag.end).toBe(true);
          previousEnd = tag.end;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('removalSpan', () => {
  const removeTag = (prompt: string, index: number) => {
    const cut = removalSpan(prompt, tagsOf(prompt)[index]);
    return prompt.slice(0, cut.start) + prompt.slice(cut.end);
  };

  it('takes the comma after a tag, else the one before', () => {
    expect(removeTag('a, b, c', 0)).toBe('b, c');
    expect(removeTag('a, b, c', 1)).toBe('a, c');
    expect(removeTag('a, b , c', 2)).toBe('a, b');
    expect(removeTag('a, (b:1.2), c', 1)).toBe('a, c');
    expect(removeTag('(a, b:1.2)', 1)).toBe('(a:1.2)');
    expect(removeTag('only', 0)).toBe('');
  });

  it('treats a BREAK as a separator', () => {
    expect(removeTag('a BREAK b', 0)).toBe('b');
    expect(removeTag('a BREAK b', 1)).toBe('a');
    expect(removeTag('a, b BREAK c', 1)).toBe('a, c');
  });

  it('leaves the other tags as they were', () => {
    fc.assert(
      fc.property(tagList, fc.nat(), (prompt, pick) => {
        const tags = tagsOf(prompt);
        fc.pre(tags.length > 0);
        const index = pick % tags.length;
        const others = tags.filter((_, i) => i !== index).map((tag) => prompt.slice(tag.start, tag.end));
        expect(tagsOf(removeTag(prompt, index)).map((tag) => tag.text)).toEqual(tags.filter((_, i) => i !== index).map((tag) => tag.text));
        expect(others.every((written) => removeTag(prompt, index).includes(written))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
