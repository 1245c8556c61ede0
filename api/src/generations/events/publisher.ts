import type { EaselPubSub } from './event-bus.js';
import { FINAL_STATUSES, type GenerationDocument } from '../generation.js';

/**
 * Topics of generation updates. Each update goes to the generation's own (for
 * `generationUpdated`) and its owner's (for `myGenerations`), and to one for all when someone
 * there needs it: queue positions move when a job enters or leaves the queue, and the webhook
 * worker wakes for generations with a webhook.
 */
export const GENERATION_TOPIC = 'GENERATION';
export const USER_GENERATIONS_TOPIC = 'USER_GENERATIONS';
export const ALL_GENERATIONS_TOPIC = 'ALL_GENERATIONS';

/** A generation as subscribers receive it: the stored document without its job secret. */
export type PublishedGeneration = Omit<GenerationDocument, 'jobSecret'>;

/**
 * Tells subscribers that a generation changed. Call it after every stored change, with the
 * document as stored after it (a lean object or a mongoose document).
 */
export function publishGeneration(pubSub: EaselPubSub, generation: GenerationDocument): void {
  const plain = 'toObject' in generation && typeof generation.toObject === 'function' ? (generation.toObject() as GenerationDocument) : generation;
  // The secret stays out of payloads, so no subscriber (nor a shared event bus later) ever holds it.
  const { jobSecret: _secret, ...published } = plain;
  pubSub.publish(GENERATION_TOPIC, published._id.toHexString(), published);
  pubSub.publish(USER_GENERATIONS_TOPIC, published.userId, published);
  if (movesQueues(published) || published.webhook) pubSub.publish(ALL_GENERATIONS_TOPIC, published);
}

/**
 * Whether an update can move queue positions: anything but the function's events on a running
 * job (after its claim, lastSequence -1, they change no job's place in the queue), which are most
 * updates, each sent on to every instance.
 */
function movesQueues(generation: PublishedGeneration): boolean {
  return !(generation.status === 'RUNNING' && generation.lastSequence >= 0);
}

/**
 * Where a state sits in its generation's life, as a tuple compared left to right. Every stored
 * change moves it forward:
 *   QUEUED (attempt 0) < RUNNING attempt 1, events by sequence, cancel requested
 *   < QUEUED again after a silent lease (still attempt 1) < RUNNING attempt 2 ... < a final status.
 * Subscribers use it to deliver updates in order: one that arrives after a later state (two
 * callbacks' publishes crossing, or an update older than the snapshot a subscription began with)
 * is stale, and skipped.
 */
export function generationVersion(generation: PublishedGeneration): number[] {
  return [
    FINAL_STATUSES.includes(generation.status) ? 1 : 0,
    generation.attempt,
    generation.status === 'QUEUED' ? 1 : 0,
    generation.lastSequence,
    generation.cancelRequested ? 1 : 0,
  ];
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
