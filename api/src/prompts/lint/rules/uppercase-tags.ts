import { PromptWarningCode, quote, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/**
 * Danbooru tags are all lowercase. CLIP lowercases text anyway, so the capitals change nothing
 * for the model; they usually mean a sentence or a name pasted into a tag prompt.
 * `<lora:Name:1>`-style extra-network names are case-sensitive and left alone.
 */
export const uppercaseTags: LintRule = {
  code: PromptWarningCode.UPPERCASE_TAG,
  readsNegativePrompt: true,
  check: ({ source, tags, promptStyle }) =>
    promptStyle !== 'TAGS'
      ? []
      : tags.flatMap((tag) => {
          if (!/\p{Lu}/u.test(tag.text) || tag.text.includes('<')) return [];
          const written = source.slice(tag.textStart, tag.textEnd);
          const lower = written.toLowerCase();
          return warning(PromptWarningCode.UPPERCASE_TAG, `${quote(written)} has capitals; tags are written in lowercase.`, {
            start: tag.textStart,
            end: tag.textEnd,
            suggestion: `Write ${quote(lower)}.`,
            replacement: lower,
          });
        }),
};
