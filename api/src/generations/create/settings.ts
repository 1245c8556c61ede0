import { randomInt } from 'node:crypto';
import { GenerationSettings, MAX_SEED, type ImageSettings } from '@easel/schema';
import { parseSampler, SAMPLER_OPTIONS, SCHEDULE_LABELS } from '@easel/schema';
import type { CatalogModel } from '../../catalog/catalog.js';
import { includesSize } from '../../catalog/catalog-rules.js';
import { InvalidInputError, type InvalidField } from '../../errors.js';
import type { StoredSettings } from '../generation.js';

/** The settings a request may give as numbers; the model's defaults fill the rest. */
type NumericOverrides = Partial<
  Pick<
    ImageSettings,
    'width' | 'height' | 'steps' | 'cfgScale' | 'clipSkip' | 'seed' | 'batchSize' | 'denoiseStrength' | 'subseed' | 'subseedStrength' | 'etaNoiseSeedDelta'
  >
>;

/** What generateImage takes; every setting left out comes from the model's defaults. */
export interface GenerateImageRequest extends NumericOverrides, Partial<Pick<ImageSettings, 'rngSource'>> {
  /** Catalog id or slug. */
  modelId: string;
  prompt: string;
  negativePrompt?: string;
  /** Default true: the prompt enhancer adds the model family's quality and negative tags. */
  enhancePrompt?: boolean;
  /** An upload of the caller's (POST /uploads): img2img from it, by denoiseStrength (default 0.75). */
  baseImageId?: string;
  /** An A1111 label, e.g. "DPM++ 2M SDE Karras" (sampler and schedule in one). */
  sampler?: string;
  /** A1111's separate "Schedule type" ("Karras"), overriding the one the sampler label names. */
  scheduleType?: string;
  /** Omitted or -1: a random seed, stored with the generation. */
  seed?: number;
  /** A1111's variation seed; omitted or -1: a random one (used only when subseedStrength > 0). */
  subseed?: number;
  /** The same id from the same user returns the same generation and charges once. */
  clientRequestId?: string;
  /** Where to post the generation's events (webhooks/); `events` omitted: all of them. */
  webhook?: { url: string; events?: string[] };
}

/** A1111's img2img default. */
export const DEFAULT_DENOISE_STRENGTH = 0.75;

export const randomSeed = () => randomInt(0, MAX_SEED + 1);

/**
 * The settings a generation runs with: the request's, else the model's defaults, checked against
 * the model (its sizes, a sampler we know) and then against the job contract itself, so that the
 * GPU function never receives a job it would refuse. Throws InvalidInputError naming every bad
 * field at once.
 */
export function resolveSettings(
  model: CatalogModel,
  request: GenerateImageRequest,
  prompts: { prompt: string; negativePrompt: string },
  newSeed: () => number = randomSeed,
): StoredSettings {
  const problems: InvalidField[] = [];
  const width = request.width ?? model.defaults.width;
  const height = request.height ?? model.defaults.height;
  if (!includesSize(model.allowedSizes, { width, height })) {
    const offered = model.allowedSizes.map((size) => `${size.width}x${size.height}`).join(', ');
    problems.push({
      field: request.width === undefined ? 'height' : 'width',
      message: `${width}x${height} is not a size ${model.name} offers; choose one of ${offered}`,
    });
  }

  const samplerLabel = request.sampler ?? model.defaults.sampler;
  const choice = parseSampler(samplerLabel, request.scheduleType);
  if (!choice) problems.push(samplerProblem(samplerLabel, request.scheduleType));

  if (request.denoiseStrength !== undefined && request.baseImageId === undefined) {
    problems.push({ field: 'denoiseStrength', message: 'denoiseStrength needs a baseImageId: it says how much of that image to repaint' });
  }

  const requested: StoredSettings = {
    width,
    height,
    steps: request.steps ?? model.defaults.steps,
    cfgScale: request.cfgScale ?? model.defaults.cfgScale,
    sampler: choice?.sampler ?? 'euler',
    schedule: choice?.schedule ?? 'normal',
    clipSkip: request.clipSkip ?? model.defaults.clipSkip,
    seed: request.seed === undefined || request.seed === -1 ? newSeed() : request.seed,
    rngSource: request.rngSource ?? 'NV',
    subseedStrength: request.subseedStrength ?? 0,
    // A1111 draws a random variation seed for -1; without a strength it decides nothing.
    subseed: request.subseed === undefined || request.subseed === -1 ? (request.subseedStrength ? newSeed() : 0) : request.subseed,
    etaNoiseSeedDelta: request.etaNoiseSeedDelta ?? 0,
    batchSize: request.batchSize ?? 1,
    denoiseStrength: request.denoiseStrength ?? DEFAULT_DENOISE_STRENGTH,
  };
  // The contract has the last word, and reports in its own terms what the checks above do not cover.
  const contract = GenerationSettings.safeParse({ ...prompts, ...requested });
  if (!contract.success) {
    for (const issue of contract.error.issues) {
      const field = issue.path.join('.');
      if (!problems.some((problem) => problem.field === field)) problems.push({ field, message: `${field}: ${issue.message}` });
    }
  }
  if (problems.length) {
    throw new InvalidInputError(`Invalid input: ${problems.map((problem) => problem.message).join('; ')}.`, problems);
  }
  const { prompt: _prompt, negativePrompt: _negativePrompt, previewEvery: _previewEvery, ...settings } = contract.data!;
  return settings;
}

function samplerProblem(label: string, scheduleType: string | undefined): InvalidField {
  if (scheduleType !== undefined && parseSampler(label)) {
    const known = ['Automatic', ...Object.values(SCHEDULE_LABELS)].join(', ');
    return { field: 'scheduleType', message: `unknown scheduleType "${scheduleType}"; use one of ${known}` };
  }
  const recommended = SAMPLER_OPTIONS.filter((option) => option.recommended).map((option) => `"${option.label}"`);
  return { field: 'sampler', message: `unknown sampler "${label}"; use an A1111 label such as ${recommended.join(' or ')} (the samplers query lists them all)` };
}
