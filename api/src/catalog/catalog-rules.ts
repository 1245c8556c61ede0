import { MODEL_FAMILIES } from '@easel/schema';
import { GenerationSettings, ModelRef } from '@easel/schema';
import { scanPrompt, type SyntaxProblem } from '@easel/schema';
import { FAMILY_ARCHITECTURE, parseSampler, SAMPLER_OPTIONS, samplerRefusal, takesNegativePrompt } from '@easel/schema';
import { InvalidInputError } from '../errors.js';
import { MODEL_TIERS, PROMPT_STYLES, type CatalogEntryFields, type ImageSize } from './catalog-entry.js';
import type { FamilyPreset } from './family-preset.js';

export const SLUG_PATTERN = /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/;
export const SLUG_RULE = 'must be lowercase letters and digits joined by - _ or . (e.g. "sdxl-base-1.0")';

// Ranges come from the job contract, so the catalog never offers defaults the GPU function refuses.
const DefaultSettings = GenerationSettings.pick({ width: true, height: true, steps: true, cfgScale: true, clipSkip: true, guidance: true });
const Size = GenerationSettings.pick({ width: true, height: true });

/** Checks a catalog entry as a whole; throws InvalidInputError listing every problem. */
export function checkCatalogEntry(entry: CatalogEntryFields): void {
  const problems: string[] = [];
  if (!entry.name?.trim()) problems.push('name: must not be empty');
  if (!SLUG_PATTERN.test(entry.slug ?? '')) {
    problems.push(`slug: "${entry.slug}" ${SLUG_RULE}`);
  }
  if (!MODEL_FAMILIES.includes(entry.family)) problems.push(`family: must be one of ${MODEL_FAMILIES.join(', ')}`);
  if (!MODEL_TIERS.includes(entry.tier)) problems.push(`tier: must be one of ${MODEL_TIERS.join(', ')}`);
  if (!PROMPT_STYLES.includes(entry.promptStyle)) problems.push(`promptStyle: must be one of ${PROMPT_STYLES.join(', ')}`);
  const path = ModelRef.shape.path.safeParse(entry.path);
  if (!path.success || entry.path === '.' || entry.path === '..') {
    problems.push(`path: "${entry.path}" must be a plain folder name under MODELS_DIR`);
  }

  const defaults = DefaultSettings.safeParse(entry.defaults);
  if (!defaults.success) {
    for (const issue of defaults.error.issues) problems.push(`defaults.${issue.path.join('.')}: ${issue.message}`);
  }
  const defaultSampler = parseSampler(entry.defaults?.sampler ?? '');
  const refusal = defaultSampler && entry.family && samplerRefusal(entry.family, defaultSampler);
  if (refusal) problems.push(`defaults.sampler: ${refusal}`);
  if (entry.defaults?.guidance !== undefined && FAMILY_ARCHITECTURE[entry.family] !== 'flux') {
    problems.push(`defaults.guidance: only Flux models take distilled guidance; ${entry.family} models use cfgScale`);
  }
  if (!defaultSampler) {
    problems.push(
      `defaults.sampler: unknown sampler "${entry.defaults?.sampler}"; use an A1111 label such as ` +
        SAMPLER_OPTIONS.filter((o) => o.recommended)
          .map((o) => `"${o.label}"`)
          .join(' or '),
    );
  }

  if (!entry.allowedSizes?.length) problems.push('allowedSizes: list at least one size');
  entry.allowedSizes?.forEach((size, i) => {
    const parsed = Size.safeParse(size);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`allowedSizes[${i}].${issue.path.join('.')}: ${issue.message}`);
    }
  });
  if (entry.defaults && entry.allowedSizes?.length && !includesSize(entry.allowedSizes, entry.defaults)) {
    problems.push(`defaults: ${entry.defaults.width}x${entry.defaults.height} is not among allowedSizes`);
  }

  if (problems.length) throw new InvalidInputError(`Invalid model "${entry.slug ?? entry.name}": ${problems.join('; ')}.`);
}

export function includesSize(sizes: readonly ImageSize[], { width, height }: ImageSize): boolean {
  return sizes.some((size) => size.width === width && size.height === height);
}

/**
 * Checks a family preset's tags; throws InvalidInputError listing every problem. The enhancer puts
 * them into every prompt of the family, so a slip like `(masterpiece` would weigh on all of them.
 */
export function checkPresetTags(preset: Pick<FamilyPreset, 'family'> & Partial<Pick<FamilyPreset, 'qualityTags' | 'negativeTags'>>): void {
  const problems = (['qualityTags', 'negativeTags'] as const).flatMap((field) =>
    (preset[field] ?? []).flatMap((tag) => scanPrompt(tag).problems.map((problem) => `${field}: "${tag}" ${explainSyntaxProblem(tag, problem)}`)),
  );
  if (!takesNegativePrompt(preset.family) && preset.negativeTags?.length) {
    problems.push(`negativeTags: ${preset.family} models run without classifier-free guidance and take no negative prompt; leave negativeTags empty`);
  }
  if (problems.length) throw new InvalidInputError(`Invalid preset for ${preset.family}: ${problems.join('; ')}.`);
}

function explainSyntaxProblem(tag: string, problem: SyntaxProblem): string {
  switch (problem.kind) {
    case 'unclosed':
      return `opens "${problem.bracket}" and never closes it`;
    case 'stray-close':
      return `has a "${problem.bracket}" that closes nothing`;
    case 'crossed':
      return `closes "${tag[problem.open]}" with "${problem.bracket}" while a bracket opened inside it is still open`;
    case 'bad-weight':
      return `has a weight "${tag.slice(problem.open, problem.closeEnd)}" that is not a number`;
    case 'lone-backslash':
      return 'has a backslash that escapes nothing and is dropped (write \\\\ for a literal backslash)';
  }
}
