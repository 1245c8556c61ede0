/**
 * A1111's prompt attention syntax, the way AUTOMATIC1111's `parse_prompt_attention` reads it:
 *
 *   (text)        weight × 1.1        [text]      weight ÷ 1.1
 *   (text:1.3)    weight × 1.3        nesting multiplies: ((text)) is 1.21
 *   \( \) \[ \]   literal brackets    \\          a literal backslash
 *   BREAK         a word of its own: ends the current 75-token chunk
 *
 * Unbalanced input never fails: an unclosed `(` or `[` applies to the rest of the prompt, a stray
 * `)` or `]` is plain text, and adjacent segments with equal weights are merged. `scanPrompt`
 * (scan.ts) reads the syntax, keeping where each piece is written; `parseAttention` gives its
 * reading in A1111's form.
 *
 * Deliberate differences from A1111, each only where A1111's output is noise or a crash:
 * - A BREAK inside brackets is still a BREAK (A1111 multiplies its -1 marker, turning it into the
 *   literal word "BREAK" with a negative weight).
 * - Empty segments are left out (A1111 keeps `["", 1]` around each BREAK); an empty prompt still
 *   gives `[{ text: '', weight: 1 }]`.
 * - A weight that is not a finite number, such as `(x:1.2.3)`, is read as text followed by a plain
 *   `)` (A1111 raises), and products of weights stay finite.
 */
import { BREAK_TEXT, BREAK_WEIGHT, BREAK_WORD, scanPrompt, type TextRun } from './scan.js';

export interface PromptSegment {
  text: string;
  /** The attention multiplier, kept at full precision: `((x))` is 1.2100000000000002. */
  weight: number;
}

/** A BREAK is the segment `{ text: 'BREAK', weight: -1 }`, exactly as A1111 represents it. */
export function isBreak(segment: PromptSegment): boolean {
  return segment.text === BREAK_TEXT && segment.weight === BREAK_WEIGHT;
}

/** The scanner's runs in A1111's form: spaces beside BREAKs dropped, neighbours of equal weight merged. */
export function parseAttention(prompt: string): PromptSegment[] {
  const runs = scanPrompt(prompt).runs;
  const segments: PromptSegment[] = [];
  let mergeable: PromptSegment | undefined; // the last text segment, unless a BREAK came after it
  for (const [i, run] of runs.entries()) {
    if (run.kind === 'break') {
      segments.push({ text: BREAK_TEXT, weight: BREAK_WEIGHT });
      mergeable = undefined;
      continue;
    }
    const text = withoutSpacesBesideBreaks(run, runs[i - 1], runs[i + 1]);
    if (!text) continue;
    if (mergeable?.weight === run.weight) mergeable.text += text;
    else segments.push((mergeable = { text, weight: run.weight }));
  }
  return segments.length > 0 ? segments : [{ text: '', weight: 1 }];
}

/**
 * A1111 splits each piece of text on `\s*BREAK\s*`, so the spaces written right beside a BREAK go
 * with it; spaces with a bracket between them and the BREAK stay.
 */
function withoutSpacesBesideBreaks(run: TextRun, before: TextRun | undefined, after: TextRun | undefined): string {
  let text = run.text;
  // trimStart and trimEnd take exactly what `\s` matches, in linear time.
  if (before?.kind === 'break' && before.end === run.start) text = text.trimStart();
  if (after?.kind === 'break' && after.start === run.end) text = text.trimEnd();
  return text;
}

function isWhitespace(char: string): boolean {
  return /\s/.test(char);
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
