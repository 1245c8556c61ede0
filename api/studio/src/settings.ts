import { ImageSettings } from '@easel/schema/job';
import type { Model } from './operations.js';

/**
 * The form's settings: what the user picked, persisted between visits. Ranges come from the job
 * contract (`ImageSettings` in @easel/schema/job, which runs in browsers too), the one place a setting is defined; the API
 * checks them again and its errors are shown next to the field they name.
 */
export interface StudioSettings {
  modelId?: string;
  prompt: string;
  negativePrompt: string;
  enhancePrompt: boolean;
  steps: number;
  cfgScale: number;
  sampler: string;
  clipSkip: number;
  seedMode: SeedMode;
  seed: number;
  width: number;
  height: number;
  batchSize: number;
  denoiseStrength: number;
}

export type SeedMode = 'random' | 'fixed' | 'last';

/** The numeric settings drawn as one field each; a new one is one more entry here. */
export type NumberSetting = 'steps' | 'cfgScale' | 'clipSkip' | 'batchSize';

export interface NumberField {
  name: NumberSetting;
  label: string;
  min: number;
  max: number;
  step: number;
  hint?: string;
}

const shape = ImageSettings.shape;
const range = (schema: { minValue: number | null; maxValue: number | null }) => ({ min: schema.minValue ?? 0, max: schema.maxValue ?? Number.MAX_SAFE_INTEGER });

export const NUMBER_FIELDS: NumberField[] = [
  { name: 'steps', label: 'Steps', ...range(shape.steps), step: 1, hint: '20–40 suits most samplers; more is slower, rarely better.' },
  { name: 'cfgScale', label: 'CFG scale', ...range(shape.cfgScale), step: 0.5, hint: '3–10: higher follows the prompt more literally.' },
  { name: 'clipSkip', label: 'Clip skip', ...range(shape.clipSkip.unwrap()), step: 1, hint: '2 for most anime models, 1 otherwise.' },
  { name: 'batchSize', label: 'Batch size', ...range(shape.batchSize.unwrap()), step: 1, hint: 'Images per generation; each costs a token.' },
];

export const SEED_RANGE = range(shape.seed);

const STORAGE_KEY = 'easel.studio.settings';

export const DEFAULT_SETTINGS: StudioSettings = {
  prompt: '',
  negativePrompt: '',
  enhancePrompt: true,
  steps: 25,
  cfgScale: 7,
  sampler: '',
  clipSkip: 1,
  seedMode: 'random',
  seed: 0,
  width: 512,
  height: 512,
  batchSize: 1,
  denoiseStrength: shape.denoiseStrength.def.defaultValue as number,
};

export function loadSettings(): StudioSettings {
  try {
    return { ...DEFAULT_SETTINGS, ...(JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Partial<StudioSettings>) };
  } catch {
    return DEFAULT_SETTINGS;
  }
}

export function saveSettings(settings: StudioSettings): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
}

/** A model's defaults over the current settings: what picking that model starts from. */
export function withModelDefaults(settings: StudioSettings, model: Model): StudioSettings {
  const { width, height, steps, cfgScale, sampler, clipSkip } = model.defaults;
  return { ...settings, modelId: model.id, width, height, steps, cfgScale, sampler, clipSkip };
}

/** Settings that fit the model: a size it allows (its default otherwise). */
export function fitToModel(settings: StudioSettings, model: Model): StudioSettings {
  const allowed = model.allowedSizes.some((size) => size.width === settings.width && size.height === settings.height);
  return allowed ? settings : { ...settings, width: model.defaults.width, height: model.defaults.height };
}
