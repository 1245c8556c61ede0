import type { ModelFamily } from '@easel/schema';
import { scanPrompt, takesNegativePrompt } from '@easel/schema';
import type { PromptStyle } from '../catalog/catalog-entry.js';
import type { FamilyPreset } from '../catalog/family-preset.js';
import { removalSpan, splitTags, type PromptTag } from './syntax/tags.js';
import { FAMILY_NAMES, isScoreTag } from './vocabulary.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from './warnings.js';

/**
 * The prompt enhancer: what on-site generators do for people who do not know a model's prompt
 * habits. It adds the family preset's quality tags in front of the prompt and its negative tags
 * in front of the negative prompt, leaving out any already there (whatever their weight, case or
 * underscores), and otherwise keeps the user's text exactly as written. Illustrious prompts lose
 * their Pony score tags. Enhancing an enhanced prompt changes nothing.
 */

export interface EnhancerModel {
  family: ModelFamily;
  /** The model's own style, from its catalog entry. */
  promptStyle: PromptStyle;
}

export type EnhancerPreset = Pick<FamilyPreset, 'promptStyle' | 'qualityTags' | 'negativeTags'>;

export interface EnhancedPrompts {
  prompt: string;
  negativePrompt: string;
  /** What the enhancer took out, with offsets into the prompts as given. */
  warnings: { prompt: PromptWarning[]; negativePrompt: PromptWarning[] };
}

/** Families trained without Pony's score tags, where people carry them over from Pony by habit. */
const DROPS_SCORE_TAGS: ReadonlySet<ModelFamily> = new Set(['ILLUSTRIOUS']);

export function enhancePrompts(
  model: EnhancerModel,
  preset: EnhancerPreset | undefined,
  { prompt, negativePrompt }: { prompt: string; negativePrompt?: string | null },
): EnhancedPrompts {
  // A preset is made for its family's usual style: vanilla SD 1.5 (sentences) is not an anime
  // SD 1.5 model (tags), so it gets none of the anime quality tags.
  const tags = preset?.promptStyle === model.promptStyle ? preset : { qualityTags: [], negativeTags: [] };
  // Flux takes no negative prompt (generateImage refuses one): its preset's negative tags, if an admin set any, are not added.
  const negativeTags = takesNegativePrompt(model.family) ? tags.negativeTags : [];
  const dropsScoreTags = DROPS_SCORE_TAGS.has(model.family);
  const enhance = (text: string, presetTags: readonly string[]) => {
    const cleaned = dropsScoreTags ? removeScoreTags(text, model.family) : { text, warnings: [] };
    const added = dropsScoreTags ? presetTags.filter((tag) => !splitTags(scanPrompt(tag)).some((t) => isScoreTag(t.key))) : presetTags;
    return { text: prependMissingTags(cleaned.text, added), warnings: cleaned.warnings };
  };
  const positive = enhance(prompt, tags.qualityTags);
  const negative = enhance(negativePrompt ?? '', negativeTags);
  return {
    prompt: positive.text,
    negativePrompt: negative.text,
    warnings: { prompt: positive.warnings, negativePrompt: negative.warnings },
  };
}

/**
 * Puts the preset tags that the text lacks in front of it, in the preset's order. A preset entry
 * counts as present when each of its tags is (an entry may hold several, or weights).
 */
export function prependMissingTags(text: string, presetTags: readonly string[]): string {
  const present = new Set(splitTags(scanPrompt(text)).map((tag) => tag.key));
  const missing: string[] = [];
  for (const entry of presetTags) {
    const keys = splitTags(scanPrompt(entry)).map((tag) => tag.key);
    if (keys.length === 0 || keys.every((key) => present.has(key))) continue;
    missing.push(entry.trim());
    keys.forEach((key) => present.add(key));
  }
  if (missing.length === 0) return text;
  return text.trim() ? `${missing.join(', ')}, ${text}` : missing.join(', ');
}

function removeScoreTags(text: string, family: ModelFamily): { text: string; warnings: PromptWarning[] } {
  const scoreTags = splitTags(scanPrompt(text)).filter((tag) => isScoreTag(tag.key));
  // Right to left: each cut leaves everything before it, where the next tag is, in place.
  let result = text;
  for (const tag of [...scoreTags].reverse()) {
    const cut = removalSpan(result, tag);
    result = result.slice(0, cut.start) + result.slice(cut.end);
  }
  return { text: result, warnings: scoreTags.map((tag) => scoreTagRemoved(text, tag, family)) };
}

function scoreTagRemoved(text: string, tag: PromptTag, family: ModelFamily): PromptWarning {
  return warning(PromptWarningCode.SCORE_TAG_REMOVED, `Removed ${quote(text.slice(tag.start, tag.end))}: score tags are Pony's, and ${FAMILY_NAMES[family]} models were not trained on them.`, {
    start: tag.start,
    end: tag.end,
  });
}
