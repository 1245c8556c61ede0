import { model, Schema, type Types } from 'mongoose';

/** A stored API key: its SHA-256 and a short display prefix, never the key itself. */
export interface ApiKeyDocument {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  /** What the owner called it ("laptop", "CI"). */
  label: string;
  hash: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const apiKeySchema = new Schema<ApiKeyDocument>(
  {
    userId: { type: Schema.Types.ObjectId, required: true, index: true },
    label: { type: String, required: true, trim: true },
    hash: { type: String, required: true, unique: true },
    prefix: { type: String, required: true },
    revokedAt: { type: Date, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false } },
);

export const ApiKeyModel = model<ApiKeyDocument>('ApiKey', apiKeySchema);
