import type { PromptTag } from '../../syntax/tags.js';
import { PromptWarningCode, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/** Three to seven quality tags help; past seven they crowd out the content and the 75-token chunk. */
export const MAX_QUALITY_TAGS = 7;

export const qualityTagCount: LintRule = {
  code: PromptWarningCode.TOO_MANY_QUALITY_TAGS,
  readsNegativePrompt: false,
  check: ({ tags, isQualityTag }) => {
    const quality = distinctByKey(tags.filter((tag) => isQualityTag(tag.key)));
    if (quality.length <= MAX_QUALITY_TAGS) return [];
    const extra = quality.slice(MAX_QUALITY_TAGS);
    return [
      warning(PromptWarningCode.TOO_MANY_QUALITY_TAGS, `${quality.length} quality tags; more than ${MAX_QUALITY_TAGS} add nothing and crowd out the subject.`, {
        start: extra[0].start,
        end: extra.at(-1)!.end,
        suggestion: `Keep 3 to ${MAX_QUALITY_TAGS} quality tags, such as ${quality
          .slice(0, 3)
          .map((tag) => tag.text)
          .join(', ')}.`,
      }),
    ];
  },
};

function distinctByKey(tags: PromptTag[]): PromptTag[] {
  const seen = new Set<string>();
  return tags.filter((tag) => !seen.has(tag.key) && seen.add(tag.key));
}
