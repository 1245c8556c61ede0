/**
 * Reads a prompt with the grammar of `parseAttention` (schema/src/prompt/attention.ts), keeping
 * where each piece is written. The parser's segments are what the model receives, but carry no
 * offsets; the linter points at characters and the enhancer edits the user's own text, so they
 * need them. A test holds the two readings together: merged, these runs are the parser's segments.
 */

export interface TextRun {
  /** `text`: written as is; `escape`: `\(` and kin, one character read from two; `break`: BREAK. */
  kind: 'text' | 'escape' | 'break';
  /** What the model reads (for a BREAK, the word itself). */
  text: string;
  start: number;
  end: number;
  /** The attention weight; -1 for a BREAK, as A1111 marks it. */
  weight: number;
}

/** A bracket the parser matched with a closing one. */
export interface BracketPair {
  bracket: '(' | '[';
  open: number;
  /** Where the closing token starts: `)`, `]`, or the `:1.2)` of an explicit weight. */
  closeStart: number;
  closeEnd: number;
  /** What the pair multiplies its content by: 1.1, 1/1.1, or the explicit weight. */
  multiplier: number;
}

export type SyntaxProblem =
  | { kind: 'unclosed'; bracket: '(' | '['; at: number }
  | { kind: 'stray-close'; bracket: ')' | ']'; at: number }
  /** `(a [b) c]`: the `)` closes the `(` while the `[` opened inside it is still open. */
  | { kind: 'crossed'; bracket: ')' | ']'; at: number; open: number }
  /** `(x:1.2.3)`: looks like a weight, is no number, so the parser reads it as text. */
  | { kind: 'bad-weight'; open: number; closeStart: number; closeEnd: number }
  /** A backslash before anything but a bracket or backslash escapes nothing and disappears. */
  | { kind: 'lone-backslash'; at: number };

export interface ScannedPrompt {
  source: string;
  /** In order; never empty text. */
  runs: TextRun[];
  pairs: BracketPair[];
  problems: SyntaxProblem[];
}

/** parseAttention's tokens, in its order of preference. Linear: see the note in attention.ts. */
const SYNTAX_TOKEN = /\\[()[\]\\]|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/y;
const BREAK_WORD = /(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])/gu;
const ROUND_MULTIPLIER = 1.1;
const SQUARE_MULTIPLIER = 1 / 1.1;

interface OpenBracket {
  at: number;
  /** Index of the first run inside it. */
  firstRun: number;
}

export function scanPrompt(source: string): ScannedPrompt {
  const runs: TextRun[] = [];
  const pairs: BracketPair[] = [];
  const problems: SyntaxProblem[] = [];
  const openRound: OpenBracket[] = [];
  const openSquare: OpenBracket[] = [];

  const multiplyFrom = (firstRun: number, multiplier: number) => {
    for (let i = firstRun; i < runs.length; i++) {
      if (runs[i].kind !== 'break') runs[i].weight = clampFinite(runs[i].weight * multiplier);
    }
  };
  const close = (stack: OpenBracket[], bracket: '(' | '[', closeStart: number, closeEnd: number, multiplier: number) => {
    const open = stack.pop()!;
    multiplyFrom(open.firstRun, multiplier);
    pairs.push({ bracket, open: open.at, closeStart, closeEnd, multiplier });
  };
  const checkCrossing = (closing: ')' | ']', at: number) => {
    const [mine, other] = closing === ')' ? [openRound, openSquare] : [openSquare, openRound];
    const innerOther = other.at(-1);
    if (innerOther && innerOther.at > mine.at(-1)!.at) problems.push({ kind: 'crossed', bracket: closing, at, open: innerOther.at });
  };
  const addText = (text: string, start: number) => {
    let from = 0;
    for (const match of text.matchAll(BREAK_WORD)) {
      if (match.index > from) runs.push(textRun(text.slice(from, match.index), start + from));
      runs.push({ kind: 'break', text: 'BREAK', start: start + match.index, end: start + match.index + 5, weight: -1 });
      from = match.index + 5;
    }
    if (from < text.length) runs.push(textRun(text.slice(from), start + from));
  };

  SYNTAX_TOKEN.lastIndex = 0;
  for (let match = SYNTAX_TOKEN.exec(source); match; match = SYNTAX_TOKEN.exec(source)) {
    const token = match[0];
    const start = match.index;
    const end = start + token.length;

    if (token.length === 2 && token[0] === '\\') {
      runs.push({ kind: 'escape', text: token[1], start, end, weight: 1 });
    } else if (token === '\\') {
      problems.push({ kind: 'lone-backslash', at: start });
    } else if (token === '(') {
      openRound.push({ at: start, firstRun: runs.length });
    } else if (token === '[') {
      openSquare.push({ at: start, firstRun: runs.length });
    } else if (match[1] !== undefined && openRound.length > 0) {
      checkCrossing(')', end - 1);
      const weight = Number(match[1]);
      if (Number.isFinite(weight)) {
        close(openRound, '(', start, end, weight);
      } else {
        // As the parser does: the colon and the digits are text, the `)` closes as usual.
        problems.push({ kind: 'bad-weight', open: openRound.at(-1)!.at, closeStart: start, closeEnd: end });
        addText(token.slice(0, -1), start);
        close(openRound, '(', end - 1, end, ROUND_MULTIPLIER);
      }
    } else if (token === ')' && openRound.length > 0) {
      checkCrossing(')', start);
      close(openRound, '(', start, end, ROUND_MULTIPLIER);
    } else if (token === ']' && openSquare.length > 0) {
      checkCrossing(']', start);
      close(openSquare, '[', start, end, SQUARE_MULTIPLIER);
    } else {
      if (token.endsWith(')') || token === ']') problems.push({ kind: 'stray-close', bracket: token.at(-1) as ')' | ']', at: end - 1 });
      addText(token, start);
    }
  }

  // The parser lets an unclosed bracket reach the end of the prompt, round ones first.
  for (const open of openRound) {
    problems.push({ kind: 'unclosed', bracket: '(', at: open.at });
    multiplyFrom(open.firstRun, ROUND_MULTIPLIER);
  }
  for (const open of openSquare) {
    problems.push({ kind: 'unclosed', bracket: '[', at: open.at });
    multiplyFrom(open.firstRun, SQUARE_MULTIPLIER);
  }

  problems.sort((a, b) => problemStart(a) - problemStart(b));
  return { source, runs, pairs, problems };
}

export function problemStart(problem: SyntaxProblem): number {
  return problem.kind === 'bad-weight' ? problem.open : problem.at;
}

function textRun(text: string, start: number): TextRun {
  return { kind: 'text', text, start, end: start + text.length, weight: 1 };
}

/** As in the parser: absurd products like (((x:1e300):1e300)) stay finite. */
function clampFinite(weight: number): number {
  return Math.min(Math.max(weight, -Number.MAX_VALUE), Number.MAX_VALUE);
}
