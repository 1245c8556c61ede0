/**
 * The one reader of the prompt attention syntax (described in attention.ts). It keeps where each
 * piece is written: `parseAttention` merges the runs into A1111's segments, which is what the model
 * receives; the API's linter points at characters and its enhancer edits the user's own text.
 */

export interface TextRun {
  /** `text`: written as is; `escape`: `\(` and kin, one character read from two; `break`: BREAK. */
  kind: 'text' | 'escape' | 'break';
  /** What the model reads (for a BREAK, the word itself), but with the spaces beside a BREAK, which parseAttention drops. */
  text: string;
  start: number;
  end: number;
  /** The attention weight, the product of the brackets around the run; -1 for a BREAK, as A1111 marks it. */
  weight: number;
}

/** A bracket matched with a closing one. */
export interface BracketPair {
  bracket: '(' | '[';
  open: number;
  /** Where the closing token starts: `)`, `]`, or the `:1.2)` of an explicit weight. */
  closeStart: number;
  closeEnd: number;
  /** What the pair multiplies its content by: 1.1, 1/1.1, or the explicit weight. */
  multiplier: number;
}

/** Slips the syntax reads without failing, though rarely as the writer meant. */
export type SyntaxProblem =
  /** Reaches to the end of the prompt. */
  | { kind: 'unclosed'; bracket: '(' | '['; at: number }
  /** Read as text. */
  | { kind: 'stray-close'; bracket: ')' | ']'; at: number }
  /** `(a [b) c]`: the `)` closes the `(` while the `[` opened inside it is still open. */
  | { kind: 'crossed'; bracket: ')' | ']'; at: number; open: number }
  /** `(x:1.2.3)`: looks like a weight, is no number, so it is read as text and the `)` as a plain one. */
  | { kind: 'bad-weight'; open: number; closeStart: number; closeEnd: number }
  /** A backslash before anything but a bracket or backslash escapes nothing and disappears. */
  | { kind: 'lone-backslash'; at: number };

export interface ScannedPrompt {
  source: string;
  /** In the order written; never empty text. */
  runs: TextRun[];
  /** In the order they close. */
  pairs: BracketPair[];
  /** In the order of where they start. */
  problems: SyntaxProblem[];
}

/** A BREAK run is the word BREAK with weight -1, exactly as A1111 represents it. */
export const BREAK_TEXT = 'BREAK';
export const BREAK_WEIGHT = -1;

const ROUND_BRACKET_MULTIPLIER = 1.1;
const SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

/**
 * One syntax token per match, in A1111's order of preference. No alternative can re-scan more
 * than the run of whitespace and digits after a colon, so a scan is linear in the prompt length.
 */
const SYNTAX_TOKEN = /\\[()[\]\\]|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/y;

/** BREAK as a whole word; "word" is Python's Unicode `\w`, which is what A1111's `\b` means. */
const BREAK_WORD_PATTERN = String.raw`(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])`;
/** Every whole-word BREAK in a text; global, for `matchAll` and `replace`. */
export const BREAK_WORD = new RegExp(BREAK_WORD_PATTERN, 'gu');
const BREAK_WORD_AT = new RegExp(BREAK_WORD_PATTERN, 'uy');

/** Whether a whole-word BREAK starts at `at`. */
export function isBreakWordAt(text: string, at: number): boolean {
  BREAK_WORD_AT.lastIndex = at;
  return BREAK_WORD_AT.test(text);
}

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
    // A BREAK inside brackets stays a BREAK (A1111 multiplies its -1 marker into a word).
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
      const end = match.index + BREAK_TEXT.length;
      runs.push({ kind: 'break', text: BREAK_TEXT, start: start + match.index, end: start + end, weight: BREAK_WEIGHT });
      from = end;
    }
    if (from < text.length) runs.push(textRun(text.slice(from), start + from));
  };

  SYNTAX_TOKEN.lastIndex = 0;
  for (let match = SYNTAX_TOKEN.exec(source); match; match = SYNTAX_TOKEN.exec(source)) {
    const token = match[0];
    const weightLiteral = match[1];
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
    } else if (weightLiteral !== undefined && openRound.length > 0) {
      checkCrossing(')', end - 1);
      const weight = Number(weightLiteral);
      if (Number.isFinite(weight)) {
        close(openRound, '(', start, end, weight);
      } else {
        // Not a weight after all (A1111 raises): the colon and digits are text, the `)` closes as usual.
        problems.push({ kind: 'bad-weight', open: openRound.at(-1)!.at, closeStart: start, closeEnd: end });
        addText(token.slice(0, -1), start);
        close(openRound, '(', end - 1, end, ROUND_BRACKET_MULTIPLIER);
      }
    } else if (token === ')' && openRound.length > 0) {
      checkCrossing(')', start);
      close(openRound, '(', start, end, ROUND_BRACKET_MULTIPLIER);
    } else if (token === ']' && openSquare.length > 0) {
      checkCrossing(']', start);
      close(openSquare, '[', start, end, SQUARE_BRACKET_MULTIPLIER);
    } else {
      // Text, a stray `)` or `]`, or a weight with no `(` open.
      if (token.endsWith(')') || token === ']') problems.push({ kind: 'stray-close', bracket: token.at(-1) as ')' | ']', at: end - 1 });
      addText(token, start);
    }
  }

  // Unclosed brackets reach to the end of the prompt, applied in A1111's order (round ones first) so floats match.
  for (const open of openRound) {
    problems.push({ kind: 'unclosed', bracket: '(', at: open.at });
    multiplyFrom(open.firstRun, ROUND_BRACKET_MULTIPLIER);
  }
  for (const open of openSquare) {
    problems.push({ kind: 'unclosed', bracket: '[', at: open.at });
    multiplyFrom(open.firstRun, SQUARE_BRACKET_MULTIPLIER);
  }

  problems.sort((a, b) => problemStart(a) - problemStart(b));
  return { source, runs, pairs, problems };
}

function problemStart(problem: SyntaxProblem): number {
  return problem.kind === 'bad-weight' ? problem.open : problem.at;
}

function textRun(text: string, start: number): TextRun {
  return { kind: 'text', text, start, end: start + text.length, weight: 1 };
}

/** Keeps absurd products like (((x:1e300):1e300)) finite, so every weight can be written back. */
function clampFinite(weight: number): number {
  return Math.min(Math.max(weight, -Number.MAX_VALUE), Number.MAX_VALUE);
}
