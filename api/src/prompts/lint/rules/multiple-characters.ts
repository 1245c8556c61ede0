import { findPhrases, tagWords, type Span } from '../../syntax/tag-words.js';
import { tagKey, type PromptTag } from '../../syntax/tags.js';
import { characterCount } from '../../vocabulary.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

const LONGEST_CHARACTER_TAG = 2; // words: `multiple girls`

/**
 * With several characters in one prompt, models blend their features (hair, eyes, clothes) into
 * each other; prompting guides advise generating each one separately and combining afterwards.
 */
export const multipleCharacters: LintRule = {
  code: PromptWarningCode.MULTIPLE_CHARACTERS,
  readsNegativePrompt: false,
  check: ({ source, tags }) => {
    let characters = 0;
    const counted = new Set<string>(); // `1girl, 1girl` is a repeat, not two girls
    const warnings: PromptWarning[] = [];
    for (const character of tags.flatMap((tag) => characterTags(source, tag))) {
      const count = characterCount(character.key)!;
      if (counted.has(character.key)) continue;
      counted.add(character.key);
      characters += count;
      if (characters < 2) continue;
      const adds = count >= 2 ? 'several characters' : 'one more character';
      warnings.push(
        warning(PromptWarningCode.MULTIPLE_CHARACTERS, `${quote(character.text)} puts ${adds} in the image; models mix up the features of characters drawn together.`, {
          start: character.start,
          end: character.end,
          suggestion: 'Generate each character on their own, then combine the images (for example with img2img).',
        }),
      );
    }
    return warnings;
  },
};

interface CharacterTag extends Span {
  key: string;
  text: string;
}

/**
 * The count tags in a tag: the tag itself, or the ones run into it by a missing comma, as in
 * `(smile:1.2) 2girls` (these point at their own words).
 */
function characterTags(source: string, tag: PromptTag): CharacterTag[] {
  if (characterCount(tag.key) !== undefined) return [{ key: tag.key, text: tag.text, start: tag.start, end: tag.end }];
  const isCharacter = (key: string) => characterCount(key) !== undefined;
  return findPhrases(source, tagWords(source, tag), LONGEST_CHARACTER_TAG, isCharacter).map(({ start, end }) => {
    const text = source.slice(start, end);
    return { key: tagKey(text), text, start, end };
  });
}
