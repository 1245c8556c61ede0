import { z } from 'zod';

/**
 * What the GPU function reports to a job's callback URL. Every event names its job and delivery
 * attempt and carries a sequence number that grows by one per event within an attempt, so the
 * API can drop duplicates, replays and stragglers from an attempt it has given up on.
 */
const EventBase = z.object({
  jobId: z.string().min(1),
  attempt: z.number().int().min(1),
  sequence: z.number().int().min(0),
  /** When the function emitted the event (epoch ms). */
  at: z.number(),
});

export const StartedEvent = EventBase.extend({ type: z.literal('started') });

export const ProgressEvent = EventBase.extend({
  type: z.literal('progress'),
  step: z.number().int().min(0),
  totalSteps: z.number().int().min(1),
  /** A small WebP of the current estimate, base64; only on preview steps. */
  previewWebp: z.base64().optional(),
});

export const CompletedEvent = EventBase.extend({
  type: z.literal('completed'),
  images: z
    .array(
      z.object({
        png: z.base64(),
        seed: z.number().int().min(0),
        width: z.number().int().min(1),
        height: z.number().int().min(1),
      }),
    )
    .min(1),
  timings: z.object({ loadMs: z.number().min(0), inferenceMs: z.number().min(0), totalMs: z.number().min(0) }),
});

export const FailedEvent = EventBase.extend({
  type: z.literal('failed'),
  /** A stable code (INVALID_JOB, MODEL_NOT_INSTALLED, ...) and a message a person understands. */
  code: z.string().min(1),
  reason: z.string(),
});

export const GenerationEvent = z.discriminatedUnion('type', [StartedEvent, ProgressEvent, CompletedEvent, FailedEvent]);
export type GenerationEvent = z.infer<typeof GenerationEvent>;
export type GenerationEventType = GenerationEvent['type'];

/** The callback's answer. `cancel` tells the function to stop between steps. */
export const CallbackReply = z.object({ cancel: z.boolean() });
export type CallbackReply = z.infer<typeof CallbackReply>;
