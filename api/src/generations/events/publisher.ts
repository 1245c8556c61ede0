import type { EaselPubSub } from './event-bus.js';
import { FINAL_STATUSES, type GenerationDocument } from '../generation.js';

/**
 * Topics of generation updates. Each update goes to three: the generation's own (for
 * `generationUpdated`), its owner's (for `myGenerations`) and one for all (queue positions move
 * when any job leaves or re-enters the queue).
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
  pubSub.publish(ALL_GENERATIONS_TOPIC, published);
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
