import type { ModelFamily } from '@easel/schema';
import { scanPrompt } from '@easel/schema';
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

/** The warnings for one prompt, in the order of where they start. Never throws. */
export function lintPrompt(source: string, { family, promptStyle, isNegative = false, qualityTags = [] }: LintOptions): PromptWarning[] {
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
