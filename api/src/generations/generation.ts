import { model, Schema, type Types } from 'mongoose';
import { ImageSettings, MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { PLANS } from '../accounts/user.js';
import type { Plan } from '../accounts/accounts.js';

export const GENERATION_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];

/**
 * What the database holds: the statuses users see, and CHARGING before them (stored, its tokens
 * not yet known to be charged; see charging.ts). A CHARGING generation is nobody's business but
 * its creator's and the charge sweep's: users do not see it and the dispatcher does not take it.
 */
export type StoredStatus = 'CHARGING' | GenerationStatus;
const STORED_STATUSES: readonly StoredStatus[] = ['CHARGING', ...GENERATION_STATUSES];

/** A job ends in one of these and never leaves it. */
export const FINAL_STATUSES: readonly StoredStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export interface StoredImage {
  /** GridFS file id. */
  fileId: Types.ObjectId;
  seed: number;
  width: number;
  height: number;
  /** A1111's `parameters` text from the PNG (see infotext.ts). */
  infotext?: string;
}

/** Something the user should know about a generation's result; `code` is stable, e.g. LORA_KEYS_UNMATCHED. */
export interface GenerationWarning {
  code: string;
  message: string;
}

/** The settings that decide the pixels besides the prompts, as the job contract defines them. */
export type StoredSettings = ImageSettings;

/**
 * One generateImage call, from charge to images. The status moves
 *   CHARGING → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED   (and QUEUED → CANCELLED)
 * and RUNNING → QUEUED once, when a silent job's lease expires and it is retried. Every move is
 * one conditional update on the status (and attempt), so two API instances, or an event racing
 * a cancel, can never both win.
 */
export interface GenerationDocument {
  _id: Types.ObjectId;
  userId: string;
  /** The plan when the job was created: it decides the per-plan concurrency limit. */
  plan: Plan;
  /** `<userId>:<clientRequestId>`, unique: the idempotency key of generateImage. */
  requestKey?: string;
  clientRequestId?: string;
  /** A hash of the request's parameters, so that a clientRequestId reused with others is refused. */
  requestFingerprint?: string;
  model: { id: string; name: string; family: ModelFamily; path: string };
  /** What the user wrote, and what the model receives after the prompt enhancer. */
  prompt: string;
  negativePrompt: string;
  finalPrompt: string;
  finalNegativePrompt: string;
  enhancePrompt: boolean;
  settings: StoredSettings;
  baseImageId?: Types.ObjectId;
  tokensCharged: number;
  /** Where to post the events named (webhooks/), signed with the owner's webhook secret. */
  webhook?: { url: string; events: string[] };

  status: StoredStatus;
  /** Delivery attempts so far (0 while first queued); events name the attempt they belong to. */
  attempt: number;
  /** HMAC key of the current attempt's callbacks. Internal: never exposed through GraphQL or logs. */
  jobSecret?: string;
  /** Until when a RUNNING job may stay silent before it is retried or failed. */
  leaseExpiresAt?: Date;
  /** Highest event sequence applied for the current attempt; anything not above it is a duplicate. */
  lastSequence: number;
  cancelRequested: boolean;

  step: number;
  totalSteps: number;
  etaSeconds?: number;
  /** The latest step preview (WebP). */
  preview?: Buffer;
  images: StoredImage[];
  error?: string;
  errorCode?: string;
  refunded: boolean;
  timings?: { queueMs?: number; loadMs?: number; loraMs?: number; inferenceMs?: number; totalMs?: number };
  /** What the user should know about a finished generation's result (a LoRA that only partly applied). */
  warnings: GenerationWarning[];

  createdAt: Date;
  updatedAt: Date;
  dispatchedAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

const imageSchema = new Schema<StoredImage>(
  {
    fileId: { type: Schema.Types.ObjectId, required: true },
    seed: { type: Number, required: true },
    width: { type: Number, required: true },
    height: { type: Number, required: true },
    infotext: { type: String },
  },
  { _id: false },
);

const generationSchema = new Schema<GenerationDocument>(
  {
    userId: { type: String, required: true },
    plan: { type: String, enum: PLANS, required: true },
    requestKey: { type: String },
    clientRequestId: { type: String },
    requestFingerprint: { type: String },
    model: {
      id: { type: String, required: true },
      name: { type: String, required: true },
      family: { type: String, enum: MODEL_FAMILIES, required: true },
      path: { type: String, required: true },
    },
    prompt: { type: String, default: '' },
    negativePrompt: { type: String, default: '' },
    finalPrompt: { type: String, default: '' },
    finalNegativePrompt: { type: String, default: '' },
    enhancePrompt: { type: Boolean, required: true },
    // Checked against the contract's definition when stored; its fields are never queried.
    settings: {
      type: Schema.Types.Mixed,
      required: true,
      validate: { validator: (value: unknown) => ImageSettings.safeParse(value).success, message: 'settings do not fit the job contract' },
    },
    baseImageId: { type: Schema.Types.ObjectId },
    webhook: { type: new Schema({ url: { type: String, required: true }, events: { type: [String], required: true } }, { _id: false }) },
    tokensCharged: { type: Number, required: true },

    status: { type: String, enum: STORED_STATUSES, required: true, default: 'QUEUED' },
    attempt: { type: Number, required: true, default: 0 },
    jobSecret: { type: String },
    leaseExpiresAt: { type: Date },
    lastSequence: { type: Number, required: true, default: -1 },
    cancelRequested: { type: Boolean, required: true, default: false },

    step: { type: Number, required: true, default: 0 },
    totalSteps: { type: Number, required: true },
    etaSeconds: { type: Number },
    preview: { type: Buffer },
    images: { type: [imageSchema], default: [] },
    error: { type: String },
    errorCode: { type: String },
    refunded: { type: Boolean, required: true, default: false },
    warnings: { type: [new Schema({ code: { type: String, required: true }, message: { type: String, required: true } }, { _id: false })], default: [] },
    timings: {
      queueMs: Number,
      loadMs: Number,
      loraMs: Number,
      inferenceMs: Number,
      totalMs: Number,
    },
    dispatchedAt: { type: Date },
    startedAt: { type: Date },
    finishedAt: { type: Date },
  },
  { timestamps: true, collection: 'generations' },
);

// The dispatcher's queue: oldest QUEUED first; and the charge sweep's stale CHARGING ones.
generationSchema.index({ status: 1, createdAt: 1, _id: 1 });
// A user's own list, newest first (cursor = _id).
generationSchema.index({ userId: 1, _id: -1 });
// Sparse: only calls with a clientRequestId carry a key.
generationSchema.index({ requestKey: 1 }, { unique: true, sparse: true });
// The lease sweep.
generationSchema.index({ status: 1, leaseExpiresAt: 1 });
// Ended jobs still owed their refund (see settleRefunds in lifecycle.ts): few, looked for often.
generationSchema.index({ refunded: 1, status: 1 });

export const GenerationModel = model<GenerationDocument>('Generation', generationSchema);
