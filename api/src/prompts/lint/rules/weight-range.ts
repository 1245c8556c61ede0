import type { PromptTag } from '../../syntax/tags.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/** Outside this range the image breaks up (too high) or the tag is all but gone (too low). */
export const MIN_WEIGHT = 0.1;
export const MAX_WEIGHT = 2.0;

export const weightRange: LintRule = {
  code: PromptWarningCode.WEIGHT_OUT_OF_RANGE,
  readsNegativePrompt: true,
  check: ({ source, tags }) => tags.flatMap((tag) => checkTag(source, tag) ?? []),
};

function checkTag(source: string, tag: PromptTag): PromptWarning | undefined {
  const outside = tag.weights.filter((weight) => !(weight >= MIN_WEIGHT && weight <= MAX_WEIGHT));
  if (outside.length === 0) return undefined;
  const weight = outside.reduce((worst, w) => (distance(w) > distance(worst) ? w : worst));
  const limit = weight > MAX_WEIGHT ? MAX_WEIGHT : MIN_WEIGHT;
  // When the brackets around the tag make all of its weight, one weight can replace them.
  const rewritable = tag.weights.length === 1 && tag.ownWeight === weight;
  const fixed = `(${source.slice(tag.textStart, tag.textEnd)}:${limit.toFixed(1)})`;
  return warning(PromptWarningCode.WEIGHT_OUT_OF_RANGE, `${quote(tag.text)} weighs ${round(weight)}; keep weights between ${MIN_WEIGHT} and ${MAX_WEIGHT.toFixed(1)}.`, {
    start: tag.start,
    end: tag.end,
    suggestion: rewritable
      ? `Write ${quote(fixed)}.`
      : `${weight > MAX_WEIGHT ? 'Lower' : 'Raise'} the weights around it: multiplied together they should come to ${weight > MAX_WEIGHT ? 'at most' : 'at least'} ${limit.toFixed(1)}.`,
    ...(rewritable ? { replacement: fixed } : {}),
  });
}

/** How far a weight is outside the range, on a log scale: 0.05 is as far off as 4. */
function distance(weight: number): number {
  if (weight <= 0) return Infinity;
  return Math.max(Math.log(weight / MAX_WEIGHT), Math.log(MIN_WEIGHT / weight));
}

function round(weight: number): string {
  return String(Math.round(weight * 100) / 100);
}
