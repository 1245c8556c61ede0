import { FINAL_STATUSES, type GenerationDocument } from '../generations/generation.js';

/** What a webhook can ask for, as Replicate's `webhook_events_filter` (start, output, logs, completed). */
export const WEBHOOK_EVENTS = ['started', 'progress', 'completed', 'failed', 'cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

type Generation = Omit<GenerationDocument, 'jobSecret'>;

/**
 * The webhook event a stored state of a generation is, with a key that names it once: the same
 * state seen twice (every instance hears every update; a final state is published again when its
 * refund lands) makes one delivery. Undefined for states no event stands for (QUEUED, CHARGING).
 */
export function webhookEventOf(generation: Generation): { event: WebhookEvent; key: string } | undefined {
  if (FINAL_STATUSES.includes(generation.status)) {
    const event = generation.status === 'SUCCEEDED' ? 'completed' : generation.status === 'CANCELLED' ? 'cancelled' : 'failed';
    return { event, key: event };
  }
  if (generation.status !== 'RUNNING' || !generation.startedAt) return undefined;
  if (generation.step === 0) return { event: 'started', key: 'started' };
  return { event: 'progress', key: `progress:${generation.attempt}:${generation.step}` };
}

/** The body posted: Standard Webhooks' { type, timestamp, data }, data as the API shows a generation. */
export function webhookPayload(event: WebhookEvent, generation: Generation, publicUrl: string): string {
  const id = generation._id.toHexString();
  return JSON.stringify({
    type: `generation.${event}`,
    timestamp: new Date().toISOString(),
    data: {
      id,
      status: generation.status,
      step: generation.step,
      totalSteps: generation.totalSteps,
      images: generation.images.map((image) => ({ id: image.fileId.toHexString(), seed: image.seed, url: `${publicUrl}/images/${image.fileId.toHexString()}` })),
      error: generation.error ?? null,
      errorCode: generation.errorCode ?? null,
    },
  });
}
