import { model, Schema, type Types } from 'mongoose';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';

export const MODEL_TIERS = ['EASY', 'ADVANCED'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

/** TAGS: danbooru-style comma-separated tags; NATURAL: plain sentences. */
export const PROMPT_STYLES = ['TAGS', 'NATURAL'] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];

export interface ImageSize {
  width: number;
  height: number;
}

export interface ModelDefaults extends ImageSize {
  steps: number;
  cfgScale: number;
  /** An A1111 label such as "DPM++ 2M SDE Karras"; see schema/src/samplers.ts. */
  sampler: string;
  clipSkip: number;
}

/** The editable description of a catalog model: what the seed file and admins provide. */
export interface CatalogEntryFields {
  name: string;
  slug: string;
  family: ModelFamily;
  tier: ModelTier;
  promptStyle: PromptStyle;
  description: string;
  /** Where the weights come from, e.g. a Hugging Face repository id. */
  source?: string | null;
  defaults: ModelDefaults;
  allowedSizes: ImageSize[];
  /** Folder name under MODELS_DIR. */
  path: string;
}

export interface CatalogEntryDocument extends CatalogEntryFields {
  _id: Types.ObjectId;
  retired: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const size = { width: { type: Number, required: true }, height: { type: Number, required: true } };

const catalogEntrySchema = new Schema<CatalogEntryDocument>(
  {
    name: { type: String, required: true },
    slug: { type: String, required: true, unique: true },
    family: { type: String, enum: MODEL_FAMILIES, required: true },
    tier: { type: String, enum: MODEL_TIERS, required: true },
    promptStyle: { type: String, enum: PROMPT_STYLES, required: true },
    description: { type: String, default: '' },
    source: { type: String, default: null },
    defaults: {
      ...size,
      steps: { type: Number, required: true },
      cfgScale: { type: Number, required: true },
      sampler: { type: String, required: true },
      clipSkip: { type: Number, required: true },
    },
    allowedSizes: { type: [new Schema(size, { _id: false })], required: true },
    path: { type: String, required: true },
    retired: { type: Boolean, default: false, index: true },
  },
  { timestamps: true, collection: 'catalog_models' },
);

export const CatalogEntryModel = model<CatalogEntryDocument>('CatalogEntry', catalogEntrySchema);
