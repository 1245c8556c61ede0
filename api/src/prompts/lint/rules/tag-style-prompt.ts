import type { PromptTag } from '../../syntax/tags.js';
import { characterCount, isScoreTag } from '../../vocabulary.js';
import { PromptWarningCode, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/**
 * Flux reads the prompt with a T5 language model, trained on captions written as sentences; a
 * list of danbooru tags loses most of what it could understand. A prompt reads as tags when it
 * has several comma-separated pieces, nearly all of them short, or uses danbooru-only words.
 */
const MIN_TAGS = 4;
const SHORT_TAG_WORDS = 3;
const SHORT_SHARE = 0.75;
/** Words of danbooru's tag language that captions never use. */
const DANBOORU_WORDS = new Set(['masterpiece', 'best quality', 'amazing quality', 'very aesthetic', 'absurdres', 'highres', 'lowres']);

export const tagStylePrompt: LintRule = {
  code: PromptWarningCode.TAG_STYLE_PROMPT,
  readsNegativePrompt: false,
  check: ({ tags, family }) => {
    if (family !== 'FLUX' || !readsAsTags(tags)) return [];
    return [
      warning(PromptWarningCode.TAG_STYLE_PROMPT, 'This reads as a list of tags, but Flux understands sentences best.', {
        start: tags[0].start,
        end: tags.at(-1)!.end,
        suggestion: 'Describe the picture in a sentence or two: who or what, doing what, where, in which style and light.',
      }),
    ];
  },
};

function readsAsTags(tags: PromptTag[]): boolean {
  if (tags.length < 2) return false;
  const danbooruWords = tags.some(
    (tag) => /\p{L}_\p{L}/u.test(tag.text) || DANBOORU_WORDS.has(tag.key) || isScoreTag(tag.key) || characterCount(tag.key) !== undefined,
  );
  const short = tags.filter((tag) => tag.key.split(' ').length <= SHORT_TAG_WORDS && !/[.!?]$/.test(tag.text)).length;
  return danbooruWords || (tags.length >= MIN_TAGS && short / tags.length >= SHORT_SHARE);
}
