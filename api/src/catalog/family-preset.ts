import { model, Schema } from 'mongoose';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { PROMPT_STYLES, type PromptStyle } from './catalog-entry.js';

/** How a family likes its prompts: the prompt enhancer adds these tags. */
export interface FamilyPreset {
  family: ModelFamily;
  promptStyle: PromptStyle;
  qualityTags: string[];
  negativeTags: string[];
}

const familyPresetSchema = new Schema<FamilyPreset>(
  {
    family: { type: String, enum: MODEL_FAMILIES, required: true, unique: true },
    promptStyle: { type: String, enum: PROMPT_STYLES, required: true },
    qualityTags: { type: [String], default: [] },
    negativeTags: { type: [String], default: [] },
  },
  { timestamps: true, collection: 'family_presets' },
);

export const FamilyPresetModel = model<FamilyPreset>('FamilyPreset', familyPresetSchema);
