import mongoose, { Schema } from 'mongoose';
import { isDuplicateKeyError } from '../errors.js';
import { newWebhookSecret } from './webhook-signing.js';

/**
 * One signing secret per user. Kept as is, not hashed: signing needs it (as Stripe's and
 * Svix's). Never logged; shown only to its owner (webhookSecret, rotateWebhookSecret).
 */
interface WebhookSecretDocument {
  userId: string;
  secret: string;
}

export const WebhookSecretModel = mongoose.model<WebhookSecretDocument>(
  'WebhookSecret',
  new Schema<WebhookSecretDocument>({ userId: { type: String, required: true, unique: true }, secret: { type: String, required: true } }, { timestamps: true }),
);

/** The user's secret, made on first use. */
export async function webhookSecret(userId: string): Promise<string> {
  const found = await WebhookSecretModel.findOne({ userId }).lean();
  if (found) return found.secret;
  try {
    await WebhookSecretModel.create({ userId, secret: newWebhookSecret() });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error; // another request made it first
  }
  return (await WebhookSecretModel.findOne({ userId }).lean())!.secret;
}

/** A new secret; deliveries from now on (retries included) are signed with it. */
export async function rotateWebhookSecret(userId: string): Promise<string> {
  await webhookSecret(userId);
  const secret = newWebhookSecret();
  await WebhookSecretModel.updateOne({ userId }, { $set: { secret } });
  return secret;
}
