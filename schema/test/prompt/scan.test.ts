import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanPrompt, type ScannedPrompt } from '../../src/prompt/index.js';
import { promptLike } from './arbitraries.js';

const DOWN = 1 / 1.1;

describe('scanPrompt: runs', () => {
  it('reads text, escapes and BREAKs with where each is written and what it weighs', () => {
    // Offsets:      0123456789012345678901 2
    const prompt = 'a (b:1.3) \\(c BREAK [d]';
    expect(scanPrompt(prompt).runs).toEqual([
      { kind: 'text', text: 'a ', start: 0, end: 2, weight: 1 },
      { kind: 'text', text: 'b', start: 3, end: 4, weight: 1.3 },
      { kind: 'text', text: ' ', start: 9, end: 10, weight: 1 },
      { kind: 'escape', text: '(', start: 10, end: 12, weight: 1 },
      { kind: 'text', text: 'c ', start: 12, end: 14, weight: 1 },
      { kind: 'break', text: 'BREAK', start: 14, end: 19, weight: -1 },
      { kind: 'text', text: ' ', start: 19, end: 20, weight: 1 },
      { kind: 'text', text: 'd', start: 21, end: 22, weight: DOWN },
    ]);
  });

  it('keeps the spaces beside a BREAK, and a BREAK inside brackets unweighted', () => {
    expect(scanPrompt('(x BREAK, y:0.5)').runs).toEqual([
      { kind: 'text', text: 'x ', start: 1, end: 3, weight: 0.5 },
      { kind: 'break', text: 'BREAK', start: 3, end: 8, weight: -1 },
      { kind: 'text', text: ', y', start: 8, end: 11, weight: 0.5 },
    ]);
  });

  it('weighs crossed and unclosed brackets over the runs they cover', () => {
    expect(scanPrompt('(a [b) c]').runs.map(({ text, start, weight }) => [text, start, weight])).toEqual([
      ['a ', 1, 1.1],
      ['b', 4, 1.1 * DOWN],
      [' c', 6, DOWN],
    ]);
    expect(scanPrompt('a (b [c').runs.map(({ text, start, weight }) => [text, start, weight])).toEqual([
      ['a ', 0, 1],
      ['b ', 3, 1.1],
      ['c', 6, 1.1 * DOWN],
    ]);
  });

  it('reads a weight that is not a number as text, up to the bracket that closes it', () => {
    expect(scanPrompt('(x:1.2.3) y').runs).toEqual([
      { kind: 'text', text: 'x', start: 1, end: 2, weight: 1.1 },
      { kind: 'text', text: ':1.2.3', start: 2, end: 8, weight: 1.1 },
      { kind: 'text', text: ' y', start: 9, end: 11, weight: 1 },
    ]);
  });

  it('says where each run is written', () => {
    fc.assert(
      fc.property(promptLike, (prompt) => {
        let previousEnd = 0;
        for (const run of scanPrompt(prompt).runs) {
          expect(prompt.slice(run.start, run.end)).toBe(run.kind === 'escape' ? `\\${run.text}` : run.text);
          expect(run.start).toBeGreaterThanOrEqual(previousEnd);
          previousEnd = run.end;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accounts for every character once: runs, brackets, weights and dropped backslashes tile the prompt', () => {
    fc.assert(
      fc.property(promptLike, (prompt) => {
        let at = 0;
        for (const [start, end] of writtenSpans(scanPrompt(prompt))) {
          expect(start).toBe(at);
          expect(end).toBeGreaterThan(start);
          at = end;
        }
        expect(at).toBe(prompt.length);
      }),
      { numRuns: 500 },
    );
  });

  it('weighs each run by the brackets written around it', () => {
    fc.assert(
      fc.property(promptLike, (prompt) => {
        const scan = scanPrompt(prompt);
        for (const run of scan.runs) {
          if (run.kind === 'break') {
            expect(run.weight).toBe(-1);
            continue;
          }
          const around = bracketsAround(scan, run.start, run.end);
          const expected = around.reduce((product, multiplier) => product * multiplier, 1);
          expect(Math.abs(run.weight - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('scanPrompt: brackets and problems', () => {
  it('pairs brackets with their closing token and its multiplier', () => {
    expect(scanPrompt('a (b:1.3) [c] ((d))').pairs).toEqual([
      { bracket: '(', open: 2, closeStart: 4, closeEnd: 9, multiplier: 1.3 },
      { bracket: '[', open: 10, closeStart: 12, closeEnd: 13, multiplier: DOWN },
      { bracket: '(', open: 15, closeStart: 17, closeEnd: 18, multiplier: 1.1 },
      { bracket: '(', open: 14, closeStart: 18, closeEnd: 19, multiplier: 1.1 },
    ]);
    expect(scanPrompt('(x: 1.25 )').pairs).toEqual([{ bracket: '(', open: 0, closeStart: 2, closeEnd: 10, multiplier: 1.25 }]);
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

  it('lists problems in the order of where they start', () => {
    const kinds = scanPrompt('(a [b) c:x\\y) (z:1..2)').problems.map((problem) => problem.kind);
    expect(kinds).toEqual(['unclosed', 'crossed', 'lone-backslash', 'stray-close', 'bad-weight']);
  });

  it('never throws, and finishes on adversarial 10,000-character prompts', { timeout: 10_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 10_000 }), (prompt) => {
        scanPrompt(prompt);
      }),
      { numRuns: 100 },
    );
    expect(scanPrompt('('.repeat(5_000) + ')'.repeat(5_000)).pairs).toHaveLength(5_000);
    expect(scanPrompt('('.repeat(10_000)).problems).toHaveLength(10_000);
    expect(scanPrompt(`(x:${'1'.repeat(9_995)}`).runs.map((run) => run.text.length)).toEqual([1, 1, 9_995]);
    expect(scanPrompt('BREAK '.repeat(1_666)).runs).toHaveLength(2 * 1_666);
  });
});

/** Where the scan says each character went: a run, a bracket or weight token, or a dropped one. */
function writtenSpans({ runs, pairs, problems }: ScannedPrompt): Array<[number, number]> {
  const spans: Array<[number, number]> = [
    ...runs.map((run): [number, number] => [run.start, run.end]),
    ...pairs.flatMap((pair): Array<[number, number]> => [
      [pair.open, pair.open + 1],
      [pair.closeStart, pair.closeEnd],
    ]),
    ...problems.flatMap((problem): Array<[number, number]> =>
      problem.kind === 'unclosed' || problem.kind === 'lone-backslash' ? [[problem.at, problem.at + 1]] : [],
    ),
  ];
  return spans.sort((a, b) => a[0] - b[0]);
}

/** The multipliers of the matched pairs around a span, and of the unclosed brackets before it. */
function bracketsAround({ pairs, problems }: ScannedPrompt, start: number, end: number): number[] {
  return [
    ...pairs.filter((pair) => pair.open < start && end <= pair.closeStart).map((pair) => pair.multiplier),
    ...problems.flatMap((problem) => (problem.kind === 'unclosed' && problem.at < start ? [problem.bracket === '(' ? 1.1 : DOWN] : [])),
  ];
}
