import mongoose, { Schema } from 'mongoose';
import { isDuplicateKeyError } from '../errors.js';
import { SecretBox } from './secret-box.js';
import { newWebhookSecret } from './webhook-signing.js';

/**
 * One signing secret per user. Not hashed: signing needs it (as Stripe's and Svix's). Sealed with
 * WEBHOOK_SECRETS_KEY when it is set (secret-box.ts), else stored as is; a secret stored as is
 * before the key was set, or sealed with a key now listed in WEBHOOK_SECRETS_PREVIOUS_KEYS, is
 * sealed with the current key the first time it is read. Never logged; shown only
 * to its owner (webhookSecret, rotateWebhookSecret).
 */
interface WebhookSecretDocument {
  userId: string;
  secret: string;
}

export const WebhookSecretModel = mongoose.model<WebhookSecretDocument>(
  'WebhookSecret',
  new Schema<WebhookSecretDocument>({ userId: { type: String, required: true, unique: true }, secret: { type: String, required: true } }, { timestamps: true }),
);

export class WebhookSecrets {
  constructor(private readonly box: SecretBox | undefined) {}

  /** The user's secret, made on first use. */
  async get(userId: string): Promise<string> {
    const found = await WebhookSecretModel.findOne({ userId }).lean();
    if (found) return this.reveal(found);
    try {
      await WebhookSecretModel.create({ userId, secret: this.stored(newWebhookSecret()) });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error; // another request made it first
    }
    return this.reveal((await WebhookSecretModel.findOne({ userId }).lean())!);
  }

  /**
   * A new secret; deliveries from now on (retries included) are signed with it. The old one is
   * never read, so a secret sealed under a key since replaced can still be rotated away.
   */
  async rotate(userId: string): Promise<string> {
    const secret = newWebhookSecret();
    const replace = () => WebhookSecretModel.updateOne({ userId }, { $set: { secret: this.stored(secret) } }, { upsert: true });
    // An upsert racing a first read's insert loses on the unique key; by then there is one to replace.
    await replace().catch((error: unknown) => {
      if (!isDuplicateKeyError(error)) throw error;
      return replace();
    });
    return secret;
  }

  private stored(secret: string): string {
    return this.box ? this.box.seal(secret) : secret;
  }

  /** The stored secret in the clear; one stored unsealed or with a retired key is sealed with the current key, unless rotated meanwhile. */
  private async reveal({ userId, secret: stored }: WebhookSecretDocument): Promise<string> {
    const { secret, reseal } = this.open(stored);
    if (reseal) await WebhookSecretModel.updateOne({ userId, secret: stored }, { $set: { secret: this.box!.seal(secret) } });
    return secret;
  }

  private open(stored: string): { secret: string; reseal: boolean } {
    if (!SecretBox.isSealed(stored)) return { secret: stored, reseal: this.box !== undefined };
    if (!this.box) throw new Error('The webhook secrets are sealed: set WEBHOOK_SECRETS_KEY to the key they were sealed with.');
    const { secret, sealedWithPreviousKey } = this.box.open(stored);
    return { secret, reseal: sealedWithPreviousKey };
  }
}
