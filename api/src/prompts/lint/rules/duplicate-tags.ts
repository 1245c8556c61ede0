import { removalSpan, type PromptTag } from '../../syntax/tags.js';
import { PromptWarningCode, quote, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/** The same tag twice, however written (`long_hair`, `Long hair`, `(long hair:1.2)`): one is enough. */
export const duplicateTags: LintRule = {
  code: PromptWarningCode.DUPLICATE_TAG,
  readsNegativePrompt: true,
  check: ({ source, tags }) => {
    const firsts = new Map<string, PromptTag>();
    return tags.flatMap((tag) => {
      const first = firsts.get(tag.key);
      if (!first) {
        firsts.set(tag.key, tag);
        return [];
      }
      const written = source.slice(tag.start, tag.end);
      const firstWritten = source.slice(first.start, first.end);
      const weighsOtherwise = weightOf(tag) !== weightOf(first);
      return warning(
        PromptWarningCode.DUPLICATE_TAG,
        `${quote(written)} repeats ${quote(firstWritten)}${weighsOtherwise ? ' with another weight' : ''}.`,
        {
          ...removalSpan(source, tag),
          suggestion: weighsOtherwise ? 'Keep one of them, with the weight you want.' : 'Remove the repeat.',
          replacement: '',
        },
      );
    });
  },
};

function weightOf(tag: PromptTag): string {
  return tag.weights.join('/');
}
