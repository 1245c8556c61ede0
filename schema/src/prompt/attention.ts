/**
 * A1111's prompt attention syntax, the way AUTOMATIC1111's `parse_prompt_attention` reads it:
 *
 *   (text)        weight × 1.1        [text]      weight ÷ 1.1
 *   (text:1.3)    weight × 1.3        nesting multiplies: ((text)) is 1.21
 *   \( \) \[ \]   literal brackets    \\          a literal backslash
 *   BREAK         a word of its own: ends the current 75-token chunk
 *
 * Unbalanced input never fails: an unclosed `(` or `[` applies to the rest of the prompt, a stray
 * `)` or `]` is plain text, and adjacent segments with equal weights are merged.
 *
 * Deliberate differences from A1111, each only where A1111's output is noise or a crash:
 * - A BREAK inside brackets is still a BREAK (A1111 multiplies its -1 marker, turning it into the
 *   literal word "BREAK" with a negative weight).
 * - Empty segments are left out (A1111 keeps `["", 1]` around each BREAK); an empty prompt still
 *   gives `[{ text: '', weight: 1 }]`.
 * - A weight that is not a finite number, such as `(x:1.2.3)`, is read as text followed by a plain
 *   `)` (A1111 raises), and products of weights stay finite.
 */
export interface PromptSegment {
  text: string;
  /** The attention multiplier, kept at full precision: `((x))` is 1.2100000000000002. */
  weight: number;
}

/** A BREAK is the segment `{ text: 'BREAK', weight: -1 }`, exactly as A1111 represents it. */
export const BREAK_TEXT = 'BREAK';
export const BREAK_WEIGHT = -1;

export function isBreak(segment: PromptSegment): boolean {
  return segment.text === BREAK_TEXT && segment.weight === BREAK_WEIGHT;
}

const ROUND_BRACKET_MULTIPLIER = 1.1;
const SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

/**
 * One syntax token per match, in A1111's order of preference. No alternative can re-scan more
 * than the run of whitespace and digits after a colon, so a scan is linear in the prompt length.
 */
const SYNTAX_TOKEN = /\\[()[\]\\]|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/y;

/** BREAK as a whole word; "word" is Python's Unicode `\w`, which is what A1111's `\b` means. */
const BREAK_WORD = /(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])/gu;

interface Piece {
  text: string;
  weight: number;
  isBreak: boolean;
}

export function parseAttention(prompt: string): PromptSegment[] {
  const pieces: Piece[] = [];
  const openRound: number[] = [];
  const openSquare: number[] = [];

  const multiplyFrom = (start: number, multiplier: number) => {
    for (let i = start; i < pieces.length; i++) {
      if (!pieces[i].isBreak) pieces[i].weight = clampFinite(pieces[i].weight * multiplier);
    }
  };
  const addText = (text: string) => {
    if (text) pieces.push({ text, weight: 1, isBreak: false });
  };
  const addTextWithBreaks = (text: string) => {
    for (const part of splitOnBreaks(text)) {
      if (part === null) pieces.push({ text: BREAK_TEXT, weight: BREAK_WEIGHT, isBreak: true });
      else addText(part);
    }
  };

  SYNTAX_TOKEN.lastIndex = 0;
  for (let match = SYNTAX_TOKEN.exec(prompt); match; match = SYNTAX_TOKEN.exec(prompt)) {
    const token = match[0];
    const weightLiteral = match[1];

    if (token.startsWith('\\')) {
      addText(token.slice(1));
    } else if (token === '(') {
      openRound.push(pieces.length);
    } else if (token === '[') {
      openSquare.push(pieces.length);
    } else if (weightLiteral !== undefined && openRound.length > 0) {
      const weight = Number(weightLiteral);
      if (Number.isFinite(weight)) {
        multiplyFrom(openRound.pop()!, weight);
      } else {
        // Not a weight after all: the colon and digits are text, the `)` closes as usual.
        addText(token.slice(0, -1));
        multiplyFrom(openRound.pop()!, ROUND_BRACKET_MULTIPLIER);
      }
    } else if (token === ')' && openRound.length > 0) {
      multiplyFrom(openRound.pop()!, ROUND_BRACKET_MULTIPLIER);
    } else if (token === ']' && openSquare.length > 0) {
      multiplyFrom(openSquare.pop()!, SQUARE_BRACKET_MULTIPLIER);
    } else {
      addTextWithBreaks(token);
    }
  }

  // Unclosed brackets reach to the end of the prompt, applied in A1111's order so floats match.
  for (const start of openRound) multiplyFrom(start, ROUND_BRACKET_MULTIPLIER);
  for (const start of openSquare) multiplyFrom(start, SQUARE_BRACKET_MULTIPLIER);

  return mergeEqualWeights(pieces);
}

/** Splits text on whole-word BREAKs (null marks each), dropping the whitespace around them. */
function splitOnBreaks(text: string): Array<string | null> {
  const parts: Array<string | null> = [];
  let partStart = 0;
  for (const match of text.matchAll(BREAK_WORD)) {
    const breakStart = match.index;
    if (breakStart < partStart) continue; // already eaten as the previous BREAK's trailing space
    let before = breakStart;
    while (before > partStart && isWhitespace(text[before - 1])) before--;
    let after = breakStart + BREAK_TEXT.length;
    while (after < text.length && isWhitespace(text[after])) after++;
    parts.push(text.slice(partStart, before), null);
    partStart = after;
  }
  parts.push(text.slice(partStart));
  return parts;
}

function isWhitespace(char: string): boolean {
  return /\s/.test(char);
}

function mergeEqualWeights(pieces: Piece[]): PromptSegment[] {
  if (pieces.length === 0) return [{ text: '', weight: 1 }];
  const segments: PromptSegment[] = [];
  let previous: Piece | undefined;
  for (const piece of pieces) {
    if (previous && !previous.isBreak && !piece.isBreak && previous.weight === piece.weight) {
      segments[segments.length - 1].text += piece.text;
    } else {
      segments.push({ text: piece.text, weight: piece.weight });
    }
    previous = piece;
  }
  return segments;
}

/** Keeps absurd products like (((x:1e300):1e300)) finite, so every weight can be written back. */
function clampFinite(weight: number): number {
  return Math.min(Math.max(weight, -Number.MAX_VALUE), Number.MAX_VALUE);
}

/**
 * Writes segments back as prompt text that parses to the same segments: weight 1 as plain text,
 * any other weight as `(text:weight)` with the weight's exact digits, special characters escaped.
 * Empty text segments carry nothing and are left out.
 */
export function serializeAttention(segments: readonly PromptSegment[]): string {
  return segments
    .map((segment, i) => {
      if (isBreak(segment)) return `${i > 0 ? ' ' : ''}${BREAK_TEXT}${i < segments.length - 1 ? ' ' : ''}`;
      if (!segment.text) return '';
      // Whitespace beside a BREAK would be swallowed by it on re-parsing; brackets keep it.
      const guardStart = segments[i - 1] && isBreak(segments[i - 1]) && isWhitespace(segment.text[0]);
      const guardEnd = segments[i + 1] && isBreak(segments[i + 1]) && isWhitespace(segment.text.at(-1)!);
      const text = escapeText(segment.text);
      return segment.weight === 1 && !guardStart && !guardEnd ? text : `(${text}:${formatWeight(segment.weight)})`;
    })
    .join('');
}

function escapeText(text: string): string {
  // A backslash followed by anything but a bracket or backslash vanishes on parsing, which is
  // how a literal word BREAK is written without it becoming one.
  return text.replace(/[\\()[\]]/g, '\\$&').replace(BREAK_WORD, 'B\\REAK');
}

/** Shortest decimal that parses back to exactly this number, never in exponent form. */
function formatWeight(weight: number): string {
  if (!Number.isFinite(weight)) throw new RangeError(`A prompt weight must be a finite number, got ${weight}`);
  if (Object.is(weight, -0)) return '-0';
  const text = String(weight);
  const exponential = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!exponential) return text;
  const [, sign, lead, fraction = '', exponent] = exponential;
  const digits = lead + fraction;
  // JavaScript only uses exponents below 1e-6 and from 1e21, where the point lies outside the digits.
  const pointAt = Number(exponent) + 1;
  return pointAt <= 0
    ? `${sign}0.${'0'.repeat(-pointAt)}${digits}`
    : `${sign}${digits}${'0'.repeat(pointAt - digits.length)}`;
}
