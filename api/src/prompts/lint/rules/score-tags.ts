import { removalSpan } from '../../syntax/tags.js';
import { FAMILY_NAMES, isScoreTag } from '../../vocabulary.js';
import { PromptWarningCode, quote, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/** Pony learned score_9 … score_4_up from its own ranking; other models read them as noise. */
export const scoreTags: LintRule = {
  code: PromptWarningCode.SCORE_TAG_NOT_PONY,
  readsNegativePrompt: true,
  check: ({ source, tags, family }) =>
    family === 'PONY'
      ? []
      : tags
          .filter((tag) => isScoreTag(tag.key))
          .map((tag) =>
            warning(PromptWarningCode.SCORE_TAG_NOT_PONY, `${quote(tag.text)} is a Pony score tag; ${FAMILY_NAMES[family]} models were not trained on it.`, {
              ...removalSpan(source, tag),
              suggestion: family === 'ILLUSTRIOUS' ? 'Remove it; the prompt enhancer removes it for you.' : 'Remove it.',
              replacement: '',
            }),
          ),
};
