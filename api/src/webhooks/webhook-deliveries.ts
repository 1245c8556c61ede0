import mongoose, { Schema, Types } from 'mongoose';
import { isDuplicateKeyError } from '../errors.js';
import type { GenerationDocument } from '../generations/generation.js';
import { webhookEventOf, webhookPayload, type WebhookEvent } from './webhook-events.js';

/**
 * Each webhook event to send, stored before it is sent, so a restart or a crash loses none (at
 * least once). `key` (generation + event key) is unique: the same event noticed twice, by two
 * instances or by the sweep, is stored once. Its `_id` is the idempotency id (`webhook-id`).
 */
export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface WebhookDeliveryDocument {
  _id: Types.ObjectId;
  key: string;
  userId: string;
  generationId: string;
  event: WebhookEvent;
  url: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  /** While an instance sends it: others leave it alone until then. */
  claimedUntil?: Date;
  lastStatusCode?: number;
  lastError?: string;
  deliveredAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

const schema = new Schema<WebhookDeliveryDocument>(
  {
    key: { type: String, required: true, unique: true },
    userId: { type: String, required: true, index: true },
    generationId: { type: String, required: true },
    event: { type: String, required: true },
    url: { type: String, required: true },
    body: { type: String, required: true },
    status: { type: String, required: true, default: 'PENDING' },
    attempts: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    claimedUntil: { type: Date },
    lastStatusCode: { type: Number },
    lastError: { type: String },
    deliveredAt: { type: Date },
  },
  { timestamps: true },
);
schema.index({ status: 1, nextAttemptAt: 1 });

export const WebhookDeliveryModel = mongoose.model<WebhookDeliveryDocument>('WebhookDelivery', schema);

/** Stores the delivery a generation's state calls for, if its webhook wants that event; a repeat is a no-op. */
export async function recordWebhookEvent(generation: Omit<GenerationDocument, 'jobSecret'>, publicUrl: string): Promise<void> {
  const { webhook } = generation;
  const found = webhook && webhookEventOf(generation);
  if (!webhook || !found || !webhook.events.includes(found.event)) return;
  const generationId = generation._id.toHexString();
  try {
    await WebhookDeliveryModel.create({
      key: `${generationId}:${found.key}`,
      userId: generation.userId,
      generationId,
      event: found.event,
      url: webhook.url,
      body: webhookPayload(found.event, generation, publicUrl),
      nextAttemptAt: new Date(),
    });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
}

/** A user's most recent deliveries, newest first. */
export function recentDeliveries(userId: string, limit: number): Promise<WebhookDeliveryDocument[]> {
  return WebhookDeliveryModel.find({ userId }).sort({ _id: -1 }).limit(limit).lean<WebhookDeliveryDocument[]>();
}
