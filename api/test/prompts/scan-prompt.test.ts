import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAttention, type PromptSegment } from '../../../schema/src/prompt/index.js';
import { scanPrompt, type TextRun } from '../../src/prompts/syntax/scan-prompt.js';
import { anyPrompt, syntaxHeavyPrompt } from './arbitraries.js';

/** The runs merged the way the parser merges its pieces: adjacent equal weights, BREAKs apart. */
function mergeRuns(runs: TextRun[]): PromptSegment[] {
  const segments: PromptSegment[] = [];
  for (const run of runs) {
    const last = segments.at(-1);
    if (last && run.kind !== 'break' && !(last.text === 'BREAK' && last.weight === -1) && last.weight === run.weight) last.text += run.text;
    else segments.push({ text: run.text, weight: run.weight });
  }
  return segments.length ? segments : [{ text: '', weight: 1 }];
}

describe('scanPrompt', () => {
  it('reads the same weights as parseAttention, on any prompt without BREAK', () => {
    fc.assert(
      fc.property(syntaxHeavyPrompt().filter((p) => !p.includes('BREAK')), (prompt) => {
        expect(mergeRuns(scanPrompt(prompt).runs)).toEqual(parseAttention(prompt));
      }),
      { numRuns: 500 },
    );
  });

  it('finds the BREAKs the parser finds, and the same text between them', () => {
    fc.assert(
      fc.property(syntaxHeavyPrompt(), (prompt) => {
        const runs = scanPrompt(prompt).runs;
        const segments = parseAttention(prompt);
        const breaks = (list: { text: string; weight: number }[]) => list.filter((s) => s.text === 'BREAK' && s.weight === -1).length;
        expect(runs.filter((run) => run.kind === 'break')).toHaveLength(breaks(segments));
        // The parser drops the spaces around a BREAK; everything else is the same text.
        const text = (list: { text: string }[]) => list.map((s) => s.text).join('').replace(/\s+/g, '');
        expect(text(runs)).toBe(text(segments));
      }),
      { numRuns: 300 },
    );
  });

  it('says where each run is written', () => {
    fc.assert(
      fc.property(syntaxHeavyPrompt(), (prompt) => {
        let previousEnd = 0;
        for (const run of scanPrompt(prompt).runs) {
          const written = prompt.slice(run.start, run.end);
          expect(written).toBe(run.kind === 'escape' ? `\\${run.text}` : run.text);
          expect(run.start).toBeGreaterThanOrEqual(previousEnd);
          previousEnd = run.end;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('pairs brackets with their closing token and its multiplier', () => {
    const { pairs } = scanPrompt('a (b:1.3) [c] ((d))');
    expect(pairs).toEqual([
      { bracket: '(', open: 2, closeStart: 4, closeEnd: 9, multiplier: 1.3 },
      { bracket: '[', open: 10, closeStart: 12, closeEnd: 13, multiplier: 1 / 1.1 },
      { bracket: '(', open: 15, closeStart: 17, closeEnd: 18, multiplier: 1.1 },
      { bracket: '(', open: 14, closeStart: 18, closeEnd: 19, multiplier: 1.1 },
    ]);
  });

  it('reports unclosed, stray and crossed brackets, non-numeric weights and lone backslashes where they are', () => {
    expect(scanPrompt('(a, [b').problems).toEqual([
      { kind: 'unclosed', bracket: '(', at: 0 },
      { kind: 'unclosed', bracket: '[', at: 4 },
    ]);
    expect(scanPrompt('a) b] c:1.2)').problems).toEqual([
      { kind: 'stray-close', bracket: ')', at: 1 },
      { kind: 'stray-close', bracket: ']', at: 4 },
      { kind: 'stray-close', bracket: ')', at: 11 },
    ]);
    expect(scanPrompt('(a [b) c]').problems).toEqual([{ kind: 'crossed', bracket: ')', at: 5, open: 3 }]);
    expect(scanPrompt('(x:1.2.3)').problems).toEqual([{ kind: 'bad-weight', open: 0, closeStart: 2, closeEnd: 9 }]);
    expect(scanPrompt('a\\b \\(c\\)').problems).toEqual([{ kind: 'lone-backslash', at: 1 }]);
    expect(scanPrompt('(a), [b], (c:0.5), \\(d\\)').problems).toEqual([]);
  });

  it('never throws, on any input up to 10,000 characters', () => {
    fc.assert(
      fc.property(anyPrompt, (prompt) => {
        scanPrompt(prompt);
      }),
      { numRuns: 100 },
    );
    expect(scanPrompt('('.repeat(5_000) + ')'.repeat(5_000)).pairs).toHaveLength(5_000);
  });
});
