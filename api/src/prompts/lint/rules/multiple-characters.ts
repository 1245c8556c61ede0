import { characterCount } from '../../vocabulary.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/**
 * With several characters in one prompt, models blend their features (hair, eyes, clothes) into
 * each other; prompting guides advise generating each one separately and combining afterwards.
 */
export const multipleCharacters: LintRule = {
  code: PromptWarningCode.MULTIPLE_CHARACTERS,
  readsNegativePrompt: false,
  check: ({ tags }) => {
    let characters = 0;
    const counted = new Set<string>(); // `1girl, 1girl` is a repeat, not two girls
    const warnings: PromptWarning[] = [];
    for (const tag of tags) {
      const count = characterCount(tag.key);
      if (count === undefined || counted.has(tag.key)) continue;
      counted.add(tag.key);
      characters += count;
      if (characters < 2) continue;
      const adds = count >= 2 ? 'several characters' : 'one more character';
      warnings.push(
        warning(PromptWarningCode.MULTIPLE_CHARACTERS, `${quote(tag.text)} puts ${adds} in the image; models mix up the features of characters drawn together.`, {
          start: tag.start,
          end: tag.end,
          suggestion: 'Generate each character on their own, then combine the images (for example with img2img).',
        }),
      );
    }
    return warnings;
  },
};
