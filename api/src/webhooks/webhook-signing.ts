import { createHmac, randomBytes } from 'node:crypto';

/*
 * Standard Webhooks (standardwebhooks.com) signatures: HMAC-SHA256 over `${id}.${timestamp}.${body}`
 * with the secret's bytes, sent as `webhook-signature: v1,<base64>` beside `webhook-id` (the
 * idempotency id, the same on every retry) and `webhook-timestamp` (Unix seconds).
 */

const PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

export function webhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function signedHeaders(secret: string, id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(secret, id, timestamp, body),
  };
}
