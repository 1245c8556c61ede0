import type { ModelFamily } from '@easel/schema';
import { promptVariant, scanPrompt, splitSubprompts, type Span } from '@easel/schema';
import type { PromptStyle } from '../../catalog/catalog-entry.js';
import { splitTags, tagKey } from '../syntax/tags.js';
import { isQualityTag } from '../vocabulary.js';
import type { PromptWarning } from '../warnings.js';
import type { LintRule } from './lint-rule.js';
import { duplicateTags } from './rules/duplicate-tags.js';
import { loneBackslash } from './rules/lone-backslash.js';
import { malformedWeights } from './rules/malformed-weights.js';
import { missingCommas } from './rules/missing-commas.js';
import { multipleCharacters } from './rules/multiple-characters.js';
import { qualityTagCount } from './rules/quality-tag-count.js';
import { scoreTags } from './rules/score-tags.js';
import { tagStylePrompt } from './rules/tag-style-prompt.js';
import { unbalancedBrackets } from './rules/unbalanced-brackets.js';
import { uppercaseTags } from './rules/uppercase-tags.js';
import { weightRange } from './rules/weight-range.js';

/** Every rule, in the order their warnings are listed when two start at the same place. */
export const LINT_RULES: readonly LintRule[] = [
  unbalancedBrackets,
  malformedWeights,
  loneBackslash,
  weightRange,
  missingCommas,
  uppercaseTags,
  duplicateTags,
  scoreTags,
  multipleCharacters,
  qualityTagCount,
  tagStylePrompt,
];

export interface LintOptions {
  family: ModelFamily;
  promptStyle: PromptStyle;
  isNegative?: boolean;
  /** The family preset's quality tags, counted as quality tags too. */
  qualityTags?: readonly string[];
}

/**
 * The warnings for one prompt, in the order of where they start. Never throws.
 *
 * The prompt language around the attention syntax is read first, as A1111 reads it: the prompt
 * is split at AND (the negative prompt is not) and each part linted on its own, without its
 * `:weight`; prompt editing and alternation are linted twice, once with each form's first branch
 * and once with its last, in place, so `[smile:frown:0.5]` reads as `smile` and as `frown`.
 */
export function lintPrompt(source: string, options: LintOptions): PromptWarning[] {
  const parts = options.isNegative ? [{ text: source, start: 0 }] : splitSubprompts(source);
  const seen = new Set<string>();
  const warnings: PromptWarning[] = [];
  for (const part of parts) {
    const first = promptVariant(part.text, 'first');
    // Without editing or alternation there is one reading.
    const variants = first.blanked.length === 0 ? [first] : [first, promptVariant(part.text, 'last')];
    for (const variant of variants) {
      for (const warning of lintText(variant.text, options)) {
        const placed = placeWarning(warning, part.start, variant.blanked);
        const key = `${placed.code} ${placed.start} ${placed.end} ${placed.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        warnings.push(placed);
      }
    }
  }
  // Stable: rule order is kept between warnings that start at the same place.
  return warnings.sort((a, b) => (a.start ?? -1) - (b.start ?? -1));
}

/** A warning on a part's variant, moved to the whole prompt; its fix is dropped where it covers blanked syntax. */
function placeWarning(warning: PromptWarning, offset: number, blanked: readonly Span[]): PromptWarning {
  if (warning.start === null || warning.end === null) return warning;
  const { start, end } = warning;
  const touchesSyntax = blanked.some((span) => span.start < Math.max(end, start + 1) && start < span.end);
  return { ...warning, start: start + offset, end: end + offset, replacement: touchesSyntax ? null : warning.replacement };
}

function lintText(source: string, { family, promptStyle, isNegative = false, qualityTags = [] }: LintOptions): PromptWarning[] {
  const scan = scanPrompt(source);
  const presetQuality = new Set(qualityTags.map(tagKey));
  const prompt = {
    source,
    scan,
    tags: splitTags(scan),
    family,
    promptStyle,
    isQualityTag: (key: string) => isQualityTag(key) || presetQuality.has(key),
  };
  const rules = LINT_RULES.filter((rule) => !isNegative || rule.readsNegativePrompt);
  const warnings = rules.flatMap((rule, order) => rule.check(prompt).map((warning) => ({ warning, order })));
  return warnings.sort((a, b) => (a.warning.start ?? -1) - (b.warning.start ?? -1) || a.order - b.order).map(({ warning }) => warning);
}
