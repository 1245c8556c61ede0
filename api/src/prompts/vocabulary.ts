import type { ModelFamily } from '@easel/schema';

/** How people name the families, for messages. */
export const FAMILY_NAMES: Record<ModelFamily, string> = {
  SD15: 'SD 1.5',
  SDXL: 'SDXL',
  ILLUSTRIOUS: 'Illustrious',
  PONY: 'Pony',
  FLUX: 'Flux',
};

/**
 * Tags the linter and enhancer recognise, as tag keys (lowercase, underscores as spaces; see
 * `tagKey`). Danbooru-trained models (Illustrious, Pony, anime SD 1.5) learned these words.
 */

/** Pony's aesthetic ranking: score_9, score_8_up, ... */
const SCORE_TAG = /^score \d( up)?$/;

export function isScoreTag(key: string): boolean {
  return SCORE_TAG.test(key);
}

/** Words people add for quality rather than content; a family preset's own tags count too. */
export const QUALITY_TAGS: ReadonlySet<string> = new Set([
  'masterpiece',
  'best quality',
  'amazing quality',
  'great quality',
  'high quality',
  'good quality',
  'very aesthetic',
  'aesthetic',
  'absurdres',
  'highres',
  'ultra detailed',
  'extremely detailed',
  'highly detailed',
  'detailed',
  'intricate details',
  'ultra high res',
  '8k',
  '4k',
  'uhd',
  'hdr',
]);

export function isQualityTag(key: string): boolean {
  return QUALITY_TAGS.has(key) || isScoreTag(key);
}

/**
 * Danbooru's count tags: 1girl, 2girls, 6+boys, 1other, multiple girls. Returns how many
 * characters the tag stands for ("multiple" and "6+" are at least that many), or undefined.
 */
const CHARACTER_COUNT = /^(?:(\d+)\+?|multiple) ?(?:girl|boy|other)s?$/;

export function characterCount(key: string): number | undefined {
  const match = CHARACTER_COUNT.exec(key);
  if (!match) return undefined;
  return match[1] === undefined ? 2 : Number(match[1]);
}

/**
 * Tags that stand alone and are never the start or end of a longer tag, so two of them (or one
 * beside other words) with no comma between are surely a missing comma: `masterpiece best quality`.
 */
const STANDALONE_TAGS: ReadonlySet<string> = new Set([
  'masterpiece',
  'best quality',
  'amazing quality',
  'great quality',
  'high quality',
  'very aesthetic',
  'absurdres',
  'highres',
  'lowres',
  'worst quality',
  'low quality',
  'normal quality',
  'bad quality',
  'nsfw',
  'sfw',
]);

export function isStandaloneTag(key: string): boolean {
  return STANDALONE_TAGS.has(key) || isScoreTag(key) || characterCount(key) !== undefined;
}
