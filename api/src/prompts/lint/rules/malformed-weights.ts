import type { BracketPair, ScannedPrompt } from '@easel/schema';
import { skipSpacesBackward, type PromptTag } from '../../syntax/tags.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/**
 * Weights written in ways the parser does not read as weights. Each shape is matched on the last
 * characters only (a weight is short), which keeps the rule linear on any prompt.
 */
const WEIGHT_TAIL_LENGTH = 32;
const NUMBER = String.raw`[+-]?(?:\d+\.?\d*|\.\d+)`;
const DECIMAL = String.raw`[+-]?(?:\d+\.\d*|\.\d+)`;
const BARE_WEIGHT = new RegExp(String.raw`\s*:\s*(${DECIMAL})$`);

interface MisreadWeight {
  /** Matches the end of a bracket's content; group 1 is the weight as meant. */
  tail: RegExp;
  /** Why the parser does not read it. */
  reason: string;
  weight(match: RegExpExecArray): string;
}

/** Shapes inside `( … )` that end with a plain `)`, so the parser applies ×1.1 and reads the number as text. */
const MISREAD_IN_BRACKETS: MisreadWeight[] = [
  { tail: new RegExp(String.raw`:\s*([+-]?\d*,\d+)\s*$`), reason: 'a decimal comma', weight: (m) => withLeadingZero(m[1].replace(',', '.')) },
  { tail: new RegExp(String.raw`\s*[;=]\s*(${NUMBER})\s*$`), reason: 'no colon before the weight', weight: (m) => m[1] },
  { tail: new RegExp(String.raw`\s+(${DECIMAL})\s*$`), reason: 'a space instead of a colon', weight: (m) => m[1] },
];

export const malformedWeights: LintRule = {
  code: PromptWarningCode.MALFORMED_WEIGHT,
  readsNegativePrompt: true,
  check: ({ scan, tags }) => [
    ...scan.pairs.flatMap((pair) => checkPair(scan, pair) ?? []),
    ...checkBadNumbers(scan),
    ...tags.flatMap((tag) => checkBareWeight(scan.source, tag) ?? []),
  ],
};

function checkPair(scan: ScannedPrompt, pair: BracketPair): PromptWarning | undefined {
  if (pair.bracket !== '(') return undefined;
  const source = scan.source;
  const contentStart = pair.open + 1;
  const tailStart = Math.max(contentStart, skipSpacesBackward(source, pair.closeStart) - WEIGHT_TAIL_LENGTH);
  const tail = source.slice(tailStart, pair.closeStart);
  const nameUntil = (match: RegExpExecArray) => (tailStart + match.index > contentStart ? source.slice(contentStart, tailStart + match.index) : undefined);

  if (pair.closeEnd - pair.closeStart > 1) {
    // Closed by a weight, as in `(tag::1.2)`: it applies, but the model also reads the stray separator.
    const separator = /\s*[:;=]\s*$/.exec(tail);
    const name = separator && nameUntil(separator);
    if (!name) return undefined;
    const weight = source.slice(pair.closeStart, pair.closeEnd).replace(/^:\s*|\s*\)$/g, '');
    return misread(source, pair, name, weight, 'a doubled separator');
  }
  for (const shape of MISREAD_IN_BRACKETS) {
    const match = shape.tail.exec(tail);
    const name = match && nameUntil(match);
    if (name) return misread(source, pair, name, shape.weight(match), shape.reason);
  }
  return undefined;
}

function misread(source: string, pair: BracketPair, name: string, weight: string, reason: string): PromptWarning {
  const written = source.slice(pair.open, pair.closeEnd);
  const fixed = `(${name.trim()}:${weight})`;
  return warning(PromptWarningCode.MALFORMED_WEIGHT, `${quote(written)} has ${reason}, so the weight is read as text.`, {
    start: pair.open,
    end: pair.closeEnd,
    suggestion: `Write ${quote(fixed)}.`,
    replacement: fixed,
  });
}

/** `(x:1.2.3)`: shaped like a weight, but not a number. */
function checkBadNumbers(scan: ScannedPrompt): PromptWarning[] {
  return scan.problems.flatMap((problem) => {
    if (problem.kind !== 'bad-weight') return [];
    const written = scan.source.slice(problem.open, problem.closeEnd);
    return warning(PromptWarningCode.MALFORMED_WEIGHT, `${quote(written)} has a weight that is not a number, so it is read as text.`, {
      start: problem.open,
      end: problem.closeEnd,
      suggestion: 'Write one number after the colon, such as (tag:1.2).',
    });
  });
}

/** `masterpiece:1.2` without brackets: the model reads ":1.2" as part of the tag. */
function checkBareWeight(source: string, tag: PromptTag): PromptWarning | undefined {
  if (tag.text.includes('<')) return undefined; // extra-network syntax such as <lora:name:0.8>
  const tailStart = Math.max(0, tag.text.length - WEIGHT_TAIL_LENGTH);
  const match = BARE_WEIGHT.exec(tag.text.slice(tailStart));
  if (!match || tailStart + match.index === 0) return undefined;
  const name = tag.text.slice(0, tailStart + match.index);
  const written = source.slice(tag.textStart, tag.textEnd);
  const fixed = `(${name}:${match[1]})`;
  const plainlyWritten = written === tag.text;
  return warning(PromptWarningCode.MALFORMED_WEIGHT, `${quote(written)} has a weight outside brackets, so it is read as text.`, {
    start: tag.textStart,
    end: tag.textEnd,
    suggestion: `Put the tag and its weight in brackets: ${quote(fixed)}.`,
    ...(plainlyWritten ? { replacement: fixed } : {}),
  });
}

/** `.5` reads fine, but `0.5` is how people write it. */
function withLeadingZero(number: string): string {
  return number.replace(/^([+-]?)\./, (_, sign: string) => `${sign}0.`);
}
