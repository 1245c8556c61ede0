import type { Types } from 'mongoose';
import type { Logger } from 'pino';
import type { TokenService } from '../../accounts/token-service.js';
import { GenerationModel, type GenerationDocument, type GenerationStatus, type StoredImage, type StoredStatus } from '../generation.js';
import { publishGeneration, type PublishedGeneration } from './publisher.js';
import type { EaselPubSub } from './event-bus.js';

/*
 * How a job ends, and why every token is spent on an image or refunded exactly once
 *
 * The end of a job is one conditional update: status ∈ expected statuses (and attempt = expected)
 * → final status. Whoever wins that update (a callback, the lease sweep, a cancel) owns the
 * ending; everyone else gets null and changes nothing. The update is the commit point: a FAILED
 * or CANCELLED job is owed its tokens from that moment. The refund itself is a second write, and
 * the ledger makes it at most once (a unique key per generation), so it can safely be repeated:
 * the dispatcher's sweep calls `settleRefunds` for ended jobs still marked `refunded: false`, which
 * covers a crash between the two writes.
 */

/** How long after a job ended its refund counts as lost rather than on its way. */
const SETTLE_AFTER_MS = 30_000;

export type FinalStatus = Extract<GenerationStatus, 'SUCCEEDED' | 'FAILED' | 'CANCELLED'>;

export interface GenerationOutcome {
  status: FinalStatus;
  images?: StoredImage[];
  /** A message a person understands. */
  error?: string;
  /** Stable, e.g. the GPU function's failure code, LEASE_EXPIRED or CANCELLED. */
  errorCode?: string;
  timings?: GenerationDocument['timings'];
  warnings?: GenerationDocument['warnings'];
}

export interface ExpectedState {
  statuses: StoredStatus[];
  /** Only the attempt that is still current may end the job. */
  attempt?: number;
  /** The lease sweep ends a job only if no event has extended its lease since the sweep looked. */
  leaseExpiredBy?: Date;
}

export interface LifecycleServices {
  tokens: TokenService;
  pubSub: EaselPubSub;
  logger: Logger;
  /**
   * Stores what a new state owes outside the API (its webhook delivery, if one is asked for).
   * Awaited before the state is announced and before the function's callback is answered, so
   * a crash or a lost publish afterwards loses no delivery.
   */
  recordDeliveries(generation: PublishedGeneration): Promise<void>;
}

/** Records the deliveries a stored state owes, then tells subscribers on every instance. */
export async function announceGeneration(services: LifecycleServices, generation: GenerationDocument): Promise<void> {
  await services.recordDeliveries(generation);
  publishGeneration(services.pubSub, generation);
}

/**
 * Moves the job to its final status if it is still as `expect` says; refunds a FAILED or
 * CANCELLED job and publishes the change. Returns the ended job, or null when the job was no
 * longer as expected (someone else ended or moved it first).
 */
export async function finishGeneration(
  services: LifecycleServices,
  generationId: string | Types.ObjectId,
  outcome: GenerationOutcome,
  expect: ExpectedState,
): Promise<GenerationDocument | null> {
  const now = new Date();
  const filter: Record<string, unknown> = { _id: generationId, status: { $in: expect.statuses } };
  if (expect.attempt !== undefined) filter.attempt = expect.attempt;
  if (expect.leaseExpiredBy !== undefined) filter.leaseExpiresAt = { $lte: expect.leaseExpiredBy };

  const set: Record<string, unknown> = { status: outcome.status, finishedAt: now, etaSeconds: 0 };
  if (outcome.images) set.images = outcome.images;
  if (outcome.error !== undefined) set.error = outcome.error;
  if (outcome.errorCode !== undefined) set.errorCode = outcome.errorCode;
  if (outcome.timings) set.timings = outcome.timings;
  if (outcome.warnings) set.warnings = outcome.warnings;
  // A finished job has no lease, and its secret has nothing left to protect.
  const ended = await GenerationModel.findOneAndUpdate(
    filter,
    { $set: set, $unset: { leaseExpiresAt: 1, jobSecret: 1 } },
    { returnDocument: 'after' },
  ).lean<GenerationDocument>();
  if (!ended) return null;

  services.logger.info(
    { generationId: String(ended._id), status: ended.status, errorCode: ended.errorCode, attempt: ended.attempt },
    'generation ended',
  );
  if (ended.status === 'SUCCEEDED') {
    await announceGeneration(services, ended);
    return ended;
  }
  const refunded = await refundGeneration(services, ended);
  await announceGeneration(services, refunded);
  return refunded;
}

/** Gives a failed or cancelled job's tokens back (at most once, whoever calls) and marks it so. */
export async function refundGeneration(services: LifecycleServices, generation: GenerationDocument): Promise<GenerationDocument> {
  const generationId = String(generation._id);
  await services.tokens.refund(
    { userId: generation.userId, plan: generation.plan },
    { generationId, reason: `Refund: generation ${generationId} ${generation.status === 'CANCELLED' ? 'was cancelled' : 'failed'}` },
  );
  const marked = await GenerationModel.findOneAndUpdate({ _id: generation._id }, { $set: { refunded: true } }, { returnDocument: 'after' }).lean<GenerationDocument>();
  return marked ?? { ...generation, refunded: true };
}

/**
 * Refunds every ended job that is owed one and not marked refunded: the repair for a crash
 * between ending a job and refunding it. Returns how many it settled.
 */
export async function settleRefunds(services: LifecycleServices): Promise<number> {
  // Jobs that ended just now are being refunded by whoever ended them.
  const endedBefore = new Date(Date.now() - SETTLE_AFTER_MS);
  const owed = await GenerationModel.find({
    status: { $in: ['FAILED', 'CANCELLED'] },
    refunded: false,
    finishedAt: { $lt: endedBefore },
  }).lean<GenerationDocument[]>();
  for (const generation of owed) {
    await refundGeneration(services, generation);
    services.logger.warn({ generationId: String(generation._id) }, 'refunded a job that ended without its refund (a crash in between?)');
  }
  return owed.length;
}
