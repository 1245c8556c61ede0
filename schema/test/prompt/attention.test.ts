import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBreak, parseAttention, serializeAttention, type PromptSegment } from '../../src/prompt/index.js';
import { A1111_ATTENTION_EXAMPLES } from './a1111-examples.js';
import { promptLike } from './arbitraries.js';

const BREAK: PromptSegment = { text: 'BREAK', weight: -1 };
const DOWN = 1 / 1.1;

describe('parseAttention: A1111 doctests', () => {
  it.each(A1111_ATTENTION_EXAMPLES)('%s', (prompt, expected) => {
    expect(parseAttention(prompt)).toEqual(expected.map(([text, weight]) => ({ text, weight })));
  });

  it('gives one empty segment for an empty prompt, or one made only of brackets', () => {
    for (const prompt of ['', '()', '[]', '(:1.5)', '(([]))']) {
      expect(parseAttention(prompt)).toEqual([{ text: '', weight: 1 }]);
    }
  });
});

describe('parseAttention: weights', () => {
  it('divides by 1.1 for square brackets and multiplies when nested', () => {
    expect(parseAttention('[x]')).toEqual([{ text: 'x', weight: DOWN }]);
    expect(parseAttention('[[x]]')).toEqual([{ text: 'x', weight: DOWN * DOWN }]);
    expect(parseAttention('((x))')).toEqual([{ text: 'x', weight: 1.1 * 1.1 }]);
    expect(parseAttention('((x:1.2):1.5)')).toEqual([{ text: 'x', weight: 1.2 * 1.5 }]);
    expect(parseAttention('[(x:1.2)]')).toEqual([{ text: 'x', weight: 1.2 * DOWN }]);
  });

  it('reads explicit weights with spaces, signs and bare decimals', () => {
    expect(parseAttention('(x: 1.25 )')).toEqual([{ text: 'x', weight: 1.25 }]);
    expect(parseAttention('(x:-0.5)')).toEqual([{ text: 'x', weight: -0.5 }]);
    expect(parseAttention('(x:+.5)')).toEqual([{ text: 'x', weight: 0.5 }]);
    expect(parseAttention('(x:2.)')).toEqual([{ text: 'x', weight: 2 }]);
  });

  it('keeps colons that are not weights as text', () => {
    expect(parseAttention('(time: 12:30 pm)')).toEqual([{ text: 'time: 12:30 pm', weight: 1.1 }]);
    expect(parseAttention('ratio 16:9')).toEqual([{ text: 'ratio 16:9', weight: 1 }]);
  });

  it('reads a weight that is not a number as text closed by a plain bracket', () => {
    expect(parseAttention('(x:1.2.3)')).toEqual([{ text: 'x:1.2.3', weight: 1.1 }]);
    expect(parseAttention('(x:.) y')).toEqual([
      { text: 'x:.', weight: 1.1 },
      { text: ' y', weight: 1 },
    ]);
  });

  it('keeps weights finite however they are nested', () => {
    const huge = `1${'0'.repeat(300)}`;
    const [segment] = parseAttention(`(((x:${huge}):${huge}):0)`);
    expect(Number.isFinite(segment.weight)).toBe(true);
  });

  it('merges adjacent segments with equal weights', () => {
    expect(parseAttention('(a)(b) c [d][e]')).toEqual([
      { text: 'ab', weight: 1.1 },
      { text: ' c ', weight: 1 },
      { text: 'de', weight: DOWN },
    ]);
  });
});

describe('parseAttention: escapes', () => {
  it('reads \\( \\) \\[ \\] and \\\\ as literal characters', () => {
    expect(parseAttention('\\(a\\) \\[b\\] c\\\\d')).toEqual([{ text: '(a) [b] c\\d', weight: 1 }]);
    expect(parseAttention('(\\(x\\))')).toEqual([{ text: '(x)', weight: 1.1 }]);
  });

  it('drops a backslash that escapes nothing, as A1111 does', () => {
    expect(parseAttention('C:\\path')).toEqual([{ text: 'C:path', weight: 1 }]);
    expect(parseAttention('end\\')).toEqual([{ text: 'end', weight: 1 }]);
  });

  it('escapes the closing bracket of a weight', () => {
    expect(parseAttention('(x:1.5\\)')).toEqual([{ text: 'x:1.5)', weight: 1.1 }]);
  });
});

describe('parseAttention: unbalanced brackets', () => {
  it('applies an unclosed bracket to the rest of the prompt', () => {
    expect(parseAttention('a (b, [c')).toEqual([
      { text: 'a ', weight: 1 },
      { text: 'b, ', weight: 1.1 },
      { text: 'c', weight: 1.1 * DOWN },
    ]);
    expect(parseAttention('((a)')).toEqual([{ text: 'a', weight: 1.1 * 1.1 }]);
  });

  it('keeps a stray closing bracket, or a weight with nothing open, as text', () => {
    expect(parseAttention('a) b] c')).toEqual([{ text: 'a) b] c', weight: 1 }]);
    expect(parseAttention('x:1.2) y')).toEqual([{ text: 'x:1.2) y', weight: 1 }]);
    expect(parseAttention('[a) b]')).toEqual([{ text: 'a) b', weight: DOWN }]);
  });

  it('closes each bracket kind on its own when they cross', () => {
    // "(" covers "a b", "[" covers "b c": b gets both.
    expect(parseAttention('(a [b) c]')).toEqual([
      { text: 'a ', weight: 1.1 },
      { text: 'b', weight: 1.1 * DOWN },
      { text: ' c', weight: DOWN },
    ]);
  });
});

describe('parseAttention: BREAK', () => {
  it('makes BREAK a segment of its own, eating the spaces around it', () => {
    expect(parseAttention('a cat BREAK a dog')).toEqual([{ text: 'a cat', weight: 1 }, BREAK, { text: 'a dog', weight: 1 }]);
    expect(parseAttention('a,BREAK, b')).toEqual([{ text: 'a,', weight: 1 }, BREAK, { text: ', b', weight: 1 }]);
    expect(parseAttention('BREAK')).toEqual([BREAK]);
    expect(parseAttention('a BREAK BREAK b')).toEqual([{ text: 'a', weight: 1 }, BREAK, BREAK, { text: 'b', weight: 1 }]);
  });

  it('eats only the spaces written right beside it, as A1111 splits each piece of text on its own', () => {
    expect(parseAttention('a (BREAK')).toEqual([{ text: 'a ', weight: 1 }, BREAK]);
    expect(parseAttention('(a )BREAK b')).toEqual([{ text: 'a ', weight: 1.1 }, BREAK, { text: 'b', weight: 1 }]);
    expect(parseAttention('\\( BREAK \\)')).toEqual([{ text: '(', weight: 1 }, BREAK, { text: ')', weight: 1 }]);
  });

  it('only breaks on the whole upper-case word', () => {
    for (const prompt of ['BREAKfast', 'aBREAK', 'BREAK_2', 'éBREAK', 'break', 'Break']) {
      expect(parseAttention(prompt)).toEqual([{ text: prompt, weight: 1 }]);
    }
  });

  it('keeps BREAK a break inside brackets and never merges it', () => {
    expect(parseAttention('(a BREAK b:1.2)')).toEqual([{ text: 'a', weight: 1.2 }, BREAK, { text: 'b', weight: 1.2 }]);
    expect(parseAttention('(a:-1) BREAK')).toEqual([{ text: 'a', weight: -1 }, BREAK]);
    expect(parseAttention('(a:-1) BREAK').map(isBreak)).toEqual([false, true]);
    // A literal BREAK (written B\REAK) weighing -1 still merges with what follows, unlike a real one.
    expect(parseAttention('(B\\REAK:-1)(c:-1)')).toEqual([{ text: 'BREAKc', weight: -1 }]);
  });
});

describe('serializeAttention', () => {
  it('writes weight 1 as plain text and other weights as (text:weight)', () => {
    expect(serializeAttention(parseAttention('a ((cat)), [dog]'))).toBe('a (cat:1.2100000000000002), (dog:0.9090909090909091)');
  });

  it('escapes brackets and backslashes', () => {
    const segments = [
      { text: 'smile :) [wink]', weight: 1 },
      { text: 'C:\\', weight: 1.5 },
    ];
    const text = serializeAttention(segments);
    expect(text).toBe('smile :\\) \\[wink\\](C:\\\\:1.5)');
    expect(parseAttention(text)).toEqual(segments);
  });

  it('writes every weight in plain decimal digits that parse back exactly', () => {
    for (const weight of [1e-7, 5e-324, 1.5e21, -2.5e-10, -0, Number.MAX_VALUE]) {
      const text = serializeAttention([{ text: 'x', weight }]);
      expect(text).not.toMatch(/e/i);
      expect(Object.is(parseAttention(text)[0].weight, weight)).toBe(true);
    }
  });

  it('keeps the spaces beside a BREAK and a literal word BREAK', () => {
    const segments = [{ text: 'a ', weight: 1 }, BREAK, { text: ' b BREAK c', weight: 1 }];
    expect(parseAttention(serializeAttention(segments))).toEqual(segments);
    expect(serializeAttention(parseAttention('BREAK a, BREAK (b) BREAK'))).toBe('BREAK a, BREAK (b:1.1) BREAK');
  });

  it('leaves out empty segments and rejects weights that are not finite', () => {
    expect(serializeAttention([{ text: '', weight: 2 }, { text: 'a', weight: 1 }])).toBe('a');
    expect(() => serializeAttention([{ text: 'a', weight: Number.NaN }])).toThrow(RangeError);
  });
});

/** Segment lists as the parser returns them: non-empty text, no equal neighbours but BREAKs. */
const segmentLists = fc
  .array(
    fc.oneof(
      fc.record({ text: fc.string({ unit: fc.constantFrom('a', ' ', '(', ']', '\\', ':', '2', 'BREAK'), minLength: 1, maxLength: 12 }), weight: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
      fc.record({ text: fc.string({ minLength: 1, maxLength: 12 }), weight: fc.constantFrom(1, 1.1, 0.5, -1) }),
      fc.constant(BREAK),
    ),
    { maxLength: 8 },
  )
  .map((segments) =>
    segments.filter((segment, i) => i === 0 || isBreak(segment) || isBreak(segments[i - 1]) || segment.weight !== segments[i - 1].weight),
  )
  .filter((segments) => segments.length > 0);

describe('parseAttention: properties', () => {
  it('never throws and always returns well-formed segments', () => {
    fc.assert(
      fc.property(fc.oneof(promptLike, fc.string({ unit: 'binary', maxLength: 10_000 })), (prompt) => {
        const segments = parseAttention(prompt);
        expect(segments.length).toBeGreaterThan(0);
        for (const [i, segment] of segments.entries()) {
          expect(Number.isFinite(segment.weight)).toBe(true);
          if (segments.length > 1) expect(segment.text).not.toBe('');
          const next = segments[i + 1];
          if (next && !isBreak(segment) && !isBreak(next)) expect(next.weight).not.toBe(segment.weight);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finishes on adversarial 10,000-character prompts', { timeout: 10_000 }, () => {
    const adversarial = [
      '('.repeat(10_000),
      `${'('.repeat(5_000)}${')'.repeat(5_000)}`,
      '(a'.repeat(5_000),
      `(x:${'1'.repeat(9_995)}`,
      ': '.repeat(5_000),
      '\\'.repeat(10_000),
      'BREAK '.repeat(1_666),
      `${' '.repeat(9_995)}BREAK`,
      `${'a'.repeat(9_990)}:1.2)`,
    ];
    for (const prompt of adversarial) expect(parseAttention(prompt).length).toBeGreaterThan(0);
  });

  it('re-parses serialized prompts to the same segments', () => {
    fc.assert(
      fc.property(fc.oneof(promptLike, fc.string({ unit: 'grapheme', maxLength: 200 })), (prompt) => {
        const segments = parseAttention(prompt);
        expect(parseAttention(serializeAttention(segments))).toEqual(segments);
      }),
      { numRuns: 1_000 },
    );
  });

  it('re-parses serialized segment lists to the same segments', () => {
    fc.assert(
      fc.property(segmentLists, (segments) => {
        expect(parseAttention(serializeAttention(segments))).toEqual(segments);
      }),
      { numRuns: 1_000 },
    );
  });
});
