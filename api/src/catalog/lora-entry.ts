import { model, Schema, type Types } from 'mongoose';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';

/** What an admin says about a LoRA when adding it. */
export interface LoraFields {
  /** The name prompts use: `<lora:name:weight>`. */
  name: string;
  /** A .safetensors file name under LORAS_DIR. */
  file: string;
  /** The families whose models it was trained for (an SDXL LoRA also suits Illustrious and Pony, if the admin says so). */
  families: ModelFamily[];
  /** Words the LoRA was trained to respond to; analyzePrompt warns when a prompt has none of them. */
  triggerWords: string[];
  /** The weight of `<lora:name>` written without one. */
  defaultWeight: number;
  description: string;
  /** Where the file came from (a Hugging Face repository, a URL), for people. */
  source?: string | null;
}

/** What the catalog reads from the file when it is added. */
export interface LoraFileHashes {
  /** A1111's "Lora hashes" value (sha256 of the tensor data, 12 hex digits). */
  shortHash: string;
  /** sha256 of the whole file: the GPU function checks the file against it, and caches by it. */
  sha256: string;
}

export interface LoraDocument extends LoraFields, LoraFileHashes {
  _id: Types.ObjectId;
  createdAt: Date;
  updatedAt: Date;
}

const loraSchema = new Schema<LoraDocument>(
  {
    name: { type: String, required: true, unique: true },
    file: { type: String, required: true },
    families: { type: [{ type: String, enum: MODEL_FAMILIES }], required: true },
    triggerWords: { type: [String], default: [] },
    defaultWeight: { type: Number, default: 1 },
    description: { type: String, default: '' },
    source: { type: String, default: null },
    shortHash: { type: String, required: true },
    sha256: { type: String, required: true },
  },
  { timestamps: true, collection: 'catalog_loras' },
);

export const LoraModel = model<LoraDocument>('Lora', loraSchema);
