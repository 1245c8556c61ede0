import { randomInt } from 'node:crypto';
import { GenerationSettings, hiresSize, HiresFix, MAX_SEED, type HiresUpscaler, type ImageSettings } from '@easel/schema';
import { FAMILY_ARCHITECTURE, parseSampler, SAMPLER_OPTIONS, samplerRefusal, SCHEDULE_LABELS, takesNegativePrompt } from '@easel/schema';
import type { CatalogModel } from '../../catalog/catalog.js';
import { includesSize } from '../../catalog/catalog-rules.js';
import { InvalidInputError, type InvalidField } from '../../errors.js';
import type { StoredSettings } from '../generation.js';
import type { RequestedLora } from './loras.js';

/** The settings a request may give as numbers; the model's defaults fill the rest. */
type NumericOverrides = Partial<
  Pick<
    ImageSettings,
    | 'width'
    | 'height'
    | 'steps'
    | 'cfgScale'
    | 'guidance'
    | 'clipSkip'
    | 'seed'
    | 'batchSize'
    | 'denoiseStrength'
    | 'subseed'
    | 'subseedStrength'
    | 'etaNoiseSeedDelta'
    | 'padConds'
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
  /** LoRAs besides the prompt's `<lora:…>` tags. */
  loras?: RequestedLora[];
  /** A1111's hires fix (txt2img only); its sampler and schedule by A1111 label. */
  hires?: HiresFixRequest;
}

export interface HiresFixRequest {
  scale?: number;
  resizeWidth?: number;
  resizeHeight?: number;
  upscaler?: HiresUpscaler;
  steps?: number;
  prompt?: string;
  negativePrompt?: string;
  sampler?: string;
  scheduleType?: string;
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
  const refusal = choice && samplerRefusal(model.family, choice);
  if (refusal) problems.push({ field: 'sampler', message: `${refusal}; the samplers query lists which families each sampler runs` });
  problems.push(...guidanceProblems(model, request), ...negativePromptProblems(model, request));

  if (request.denoiseStrength !== undefined && request.baseImageId === undefined && request.hires === undefined) {
    problems.push({ field: 'denoiseStrength', message: 'denoiseStrength needs a baseImageId or hires: it says how much of that image to repaint' });
  }
  const hires = request.hires && resolveHires(request.hires, { width, height }, problems);
  if (request.hires && request.baseImageId !== undefined) {
    problems.push({ field: 'hires', message: 'hires is for text-to-image; with a baseImageId, ask for the size you want instead' });
  }

  // The LoRAs are resolved apart (loras.ts), against the LoRA catalog.
  const requested: Omit<StoredSettings, 'loras'> = {
    width,
    height,
    steps: request.steps ?? model.defaults.steps,
    cfgScale: request.cfgScale ?? model.defaults.cfgScale,
    sampler: choice?.sampler ?? 'euler',
    schedule: choice?.schedule ?? 'normal',
    clipSkip: request.clipSkip ?? model.defaults.clipSkip,
    ...(model.defaults.guidance === undefined ? {} : { guidance: request.guidance ?? model.defaults.guidance }),
    seed: request.seed === undefined || request.seed === -1 ? newSeed() : request.seed,
    rngSource: request.rngSource ?? 'NV',
    subseedStrength: request.subseedStrength ?? 0,
    // A1111 draws a random variation seed for -1; without a strength it decides nothing.
    subseed: request.subseed === undefined || request.subseed === -1 ? (request.subseedStrength ? newSeed() : 0) : request.subseed,
    etaNoiseSeedDelta: request.etaNoiseSeedDelta ?? 0,
    batchSize: request.batchSize ?? 1,
    denoiseStrength: request.denoiseStrength ?? DEFAULT_DENOISE_STRENGTH,
    padConds: request.padConds ?? false,
    ...(hires && { hires }),
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

/**
 * Distilled guidance is an input of FLUX.1 [dev]-type models only (their catalog defaults carry
 * it); Flux runs no classifier-free guidance, so its CFG scale stays 1.
 */
function guidanceProblems(model: CatalogModel, request: GenerateImageRequest): InvalidField[] {
  const problems: InvalidField[] = [];
  if (request.guidance !== undefined && model.defaults.guidance === undefined) {
    const why = FAMILY_ARCHITECTURE[model.family] === 'flux' ? 'is a FLUX.1 [schnell]-type model, which takes none' : `is a ${model.family} model: use cfgScale`;
    problems.push({ field: 'guidance', message: `guidance is FLUX.1 [dev]'s distilled guidance; ${model.name} ${why}` });
  }
  if (FAMILY_ARCHITECTURE[model.family] === 'flux' && request.cfgScale !== undefined && request.cfgScale !== 1) {
    problems.push({ field: 'cfgScale', message: `${model.name} is guidance-distilled and runs without classifier-free guidance: leave cfgScale at 1 (FLUX.1 [dev] takes guidance instead)` });
  }
  return problems;
}

/** A negative prompt for a model that cannot use one (Flux, see takesNegativePrompt) is refused rather than silently dropped. */
function negativePromptProblems(model: CatalogModel, request: GenerateImageRequest): InvalidField[] {
  if (takesNegativePrompt(model.family)) return [];
  const given = [
    ['negativePrompt', request.negativePrompt],
    ['hires.negativePrompt', request.hires?.negativePrompt],
  ] as const;
  return given
    .filter(([, text]) => text?.trim())
    .map(([field]) => ({
      field,
      message: `${field}: ${model.name} is a Flux model, which runs without classifier-free guidance, so a negative prompt has no effect; leave it empty and say what you want in the prompt`,
    }));
}

/** The hires fix with its sampler label read and its target size checked (A1111's calculate_target_resolution). */
function resolveHires({ sampler, scheduleType, ...rest }: HiresFixRequest, firstPass: { width: number; height: number }, problems: InvalidField[]): HiresFix | undefined {
  let choice: { sampler?: HiresFix['sampler']; schedule?: HiresFix['schedule'] } = {};
  if (sampler !== undefined || scheduleType !== undefined) {
    const parsed = sampler === undefined ? undefined : parseSampler(sampler, scheduleType);
    const schedule = sampler === undefined ? parseSampler('Euler', scheduleType)?.schedule : undefined;
    if (sampler !== undefined && !parsed) {
      problems.push({ ...samplerProblem(sampler, scheduleType), field: 'hires.sampler' });
      return undefined;
    }
    choice = parsed ? { sampler: parsed.sampler, ...(scheduleType !== undefined && { schedule: parsed.schedule }) } : { schedule };
  }
  const parsed = HiresFix.safeParse({ ...rest, ...choice });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push({ field: `hires.${issue.path.join('.')}`, message: `hires.${issue.path.join('.')}: ${issue.message}` });
    return undefined;
  }
  const size = hiresSize(firstPass.width, firstPass.height, parsed.data);
  if (size.width > 2048 || size.height > 2048 || size.upscaleWidth < firstPass.width || size.upscaleHeight < firstPass.height) {
    problems.push({ field: 'hires', message: `the hires fix makes ${size.width}x${size.height} from ${firstPass.width}x${firstPass.height}; it must enlarge, up to 2048 on a side` });
    return undefined;
  }
  return parsed.data;
}

function samplerProblem(label: string, scheduleType: string | undefined): InvalidField {
  if (scheduleType !== undefined && parseSampler(label)) {
    const known = ['Automatic', ...Object.values(SCHEDULE_LABELS)].join(', ');
    return { field: 'scheduleType', message: `unknown scheduleType "${scheduleType}"; use one of ${known}` };
  }
  const recommended = SAMPLER_OPTIONS.filter((option) => option.recommended).map((option) => `"${option.label}"`);
  return { field: 'sampler', message: `unknown sampler "${label}"; use an A1111 label such as ${recommended.join(' or ')} (the samplers query lists them all)` };
}
