import { z } from 'zod';
import { MAX_LORAS } from './job.js';

/** Unmatched keys a completed event names per LoRA; the rest are counted (and logged by the function). */
export const LORA_REPORT_EXAMPLES = 5;

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

/** How many of a LoRA's modules were merged, and its keys that matched nothing in the model (a few named). */
export const LoraReport = z.object({
  name: z.string().min(1),
  applied: z.number().int().min(0),
  unmatchedCount: z.number().int().min(0),
  /** The first few unmatched keys, each with why ("… (no such layer in unet/model.onnx)"). */
  unmatchedExamples: z.array(z.string().max(500)).max(LORA_REPORT_EXAMPLES),
});
export type LoraReport = z.infer<typeof LoraReport>;

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
  timings: z.object({
    loadMs: z.number().min(0),
    inferenceMs: z.number().min(0),
    totalMs: z.number().min(0),
    /** Merging the job's LoRAs into the model and opening its sessions; 0 when the set was cached. */
    loraMs: z.number().min(0).optional(),
  }),
  /** What each of the job's LoRAs changed in the model; absent without LoRAs. */
  loras: z.array(LoraReport).max(MAX_LORAS).optional(),
});

/**
 * Why a job failed, as the GPU function reports it. FailedEvent.code stays an open string, so an
 * API older than the function still records a code it does not know yet.
 */
export const FAILURE_CODES = [
  /** The job does not match this function's contract (or its version). */
  'INVALID_JOB',
  /** The job's model folder is not in the function's MODELS_DIR. */
  'MODEL_NOT_INSTALLED',
  /** The model folder lacks a file the pipeline needs (a partial download). */
  'MODEL_INCOMPLETE',
  /** model_index.json names a pipeline the function cannot run. */
  'MODEL_UNKNOWN_KIND',
  /** A model file is unreadable or not what its name promises. */
  'MODEL_INVALID',
  /** EASEL_EXECUTION_PROVIDER=cuda and CUDA cannot be used (library not installed, no GPU or driver). */
  'GPU_UNAVAILABLE',
  /** The img2img base image could not be downloaded. */
  'BASE_IMAGE_UNAVAILABLE',
  'BASE_IMAGE_TOO_LARGE',
  /** The base image's bytes are not an image. */
  'BASE_IMAGE_INVALID',
  /** The settings cannot run on this model. */
  'INVALID_REQUEST',
  /** A LoRA file is missing, pickled, malformed, or made for another model; the reason names it. */
  'LORA_INVALID',
  /** Stopped because the callback said cancel (or no longer knew the job). */
  'CANCELLED',
  /** The function was about to reach its time limit. */
  'TIMEOUT',
  /** The GPU (or the host) ran out of memory. */
  'OUT_OF_MEMORY',
  /** The model computed NaN or infinity (typically fp16 overflow); the reason says which part. */
  'NON_FINITE_OUTPUT',
  /** Anything else: a bug or a broken runtime; the reason says what happened. */
  'INTERNAL_ERROR',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export const FailedEvent = EventBase.extend({
  type: z.literal('failed'),
  /** A stable code (one of FAILURE_CODES) and a message a person understands. */
  code: z.string().min(1),
  reason: z.string(),
});

export const GenerationEvent = z.discriminatedUnion('type', [StartedEvent, ProgressEvent, CompletedEvent, FailedEvent]);
export type GenerationEvent = z.infer<typeof GenerationEvent>;
export type GenerationEventType = GenerationEvent['type'];

/**
 * The header that names an event's type: the API bounds the body's size by it before reading
 * a byte (a progress event is small; a completion carries the images).
 */
export const EVENT_TYPE_HEADER = 'x-easel-event';

/** The callback's answer. `cancel` tells the function to stop between steps. */
export const CallbackReply = z.object({ cancel: z.boolean() });
export type CallbackReply = z.infer<typeof CallbackReply>;
