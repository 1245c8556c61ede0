import type { Types } from 'mongoose';
import { ChargeVoidedError, InsufficientTokensError, type TokenHolder } from '../../accounts/token-service.js';
import { GenerationModel, type GenerationDocument } from '../generation.js';
import { finishGeneration, type LifecycleServices } from '../events/lifecycle.js';
import { publishGeneration } from '../events/publisher.js';

/*
 * How a generation is paid for, so that every token charged is spent on an image or refunded
 * whatever point a crash hits:
 *
 *   1. insert the generation CHARGING   hidden from users and from the dispatcher
 *   2. debit its tokens                 the ledger's DEBIT:<id>, at most once
 *   3. CHARGING → QUEUED                a job now: shown, dispatched, refunded if it fails
 *
 * Too few tokens at 2: the creator deletes the generation again and nothing is left anywhere.
 * A crash between the steps leaves a CHARGING generation that nobody moves on. Once it is
 * CHARGE_TIMEOUT_MS old, the sweep (or a retry of its clientRequestId) settles it by the ledger:
 * - charged: it becomes a job (QUEUED), or, too old to start now, FAILED and refunded;
 * - not charged: its charge is voided and it is deleted.
 * "Not charged" cannot be decided by reading the ledger alone: a creator that stalled rather than
 * crashed could debit just after the read. The void is a DEBIT of 0 under the same unique key
 * (TokenService.voidCharge), so exactly one of the two lands; a stalled creator's debit then fails
 * with ChargeVoidedError and it starts over. No transaction is needed, which matters because
 * jongodb's do not detect write conflicts.
 */

/** A creator takes milliseconds from step 1 to step 3; one this late has crashed or stalled. */
export const CHARGE_TIMEOUT_MS = 10_000;

/**
 * A charged generation settled later than this fails and is refunded instead of starting: its
 * request never got an answer, and an image that turns up long after would be a surprise (a
 * retry with the same clientRequestId within this time gets the generation back).
 */
const LATE_START_LIMIT_MS = 10 * 60_000;

const holderOf = (generation: GenerationDocument): TokenHolder => ({ userId: generation.userId, plan: generation.plan });

/** Whether a CHARGING generation's creator has had its time. */
export const isStaleCharge = (generation: GenerationDocument, now = Date.now()) => now - generation.createdAt.getTime() >= CHARGE_TIMEOUT_MS;

/**
 * Steps 2 and 3, for the generation the caller has just inserted CHARGING. Returns it QUEUED, or
 * undefined when its charge was voided while this caller stalled (nothing was charged; the
 * generation is gone, and the caller may start over). Throws InsufficientTokensError after
 * deleting it.
 */
export async function chargeGeneration(services: LifecycleServices, generation: GenerationDocument, reason: string): Promise<GenerationDocument | undefined> {
  const generationId = String(generation._id);
  try {
    await services.tokens.debit(holderOf(generation), { generationId, amount: generation.tokensCharged, reason });
  } catch (error) {
    if (error instanceof ChargeVoidedError) return undefined;
    if (error instanceof InsufficientTokensError) {
      // If this delete fails, the sweep voids the charge and deletes it.
      await GenerationModel.deleteOne({ _id: generation._id, status: 'CHARGING' }).catch((deleteError: unknown) => {
        services.logger.warn({ err: deleteError, generationId }, 'could not delete a generation refused for lack of tokens; the charge sweep will');
      });
    }
    throw error;
  }
  return queueCharged(services, generation._id);
}

/**
 * Settles a CHARGING generation whose creator is gone or stalled (see above). Returns it as it
 * ends up, or undefined when it was never charged and has been deleted.
 */
export async function settleCharge(services: LifecycleServices, generation: GenerationDocument): Promise<GenerationDocument | undefined> {
  const generationId = String(generation._id);
  const charge = await services.tokens.voidCharge(holderOf(generation), {
    generationId,
    reason: `Generation ${generationId} was dropped before it was charged (its request did not finish); nothing was charged`,
  });
  if (charge === 'voided') {
    await GenerationModel.deleteOne({ _id: generation._id, status: 'CHARGING' });
    services.logger.warn({ generationId }, 'dropped a generation whose request stopped before charging it; nothing was charged');
    return undefined;
  }
  if (Date.now() - generation.createdAt.getTime() < LATE_START_LIMIT_MS) {
    services.logger.warn({ generationId }, 'queued a charged generation whose request stopped before queueing it');
    return queueCharged(services, generation._id);
  }
  const failed = await finishGeneration(
    services,
    generation._id,
    {
      status: 'FAILED',
      errorCode: 'NOT_QUEUED',
      error: 'The server stopped while queueing this generation, and it is too late to start it now. Your tokens were refunded.',
    },
    { statuses: ['CHARGING'] },
  );
  return failed ?? (await current(generation._id));
}

/** The sweep's part: settles every CHARGING generation older than CHARGE_TIMEOUT_MS. Returns how many. */
export async function settleStaleCharges(services: LifecycleServices): Promise<number> {
  const stale = await GenerationModel.find({ status: 'CHARGING', createdAt: { $lte: new Date(Date.now() - CHARGE_TIMEOUT_MS) } }).lean<GenerationDocument[]>();
  for (const generation of stale) await settleCharge(services, generation);
  return stale.length;
}

/** Step 3: a charged generation becomes a job. Whoever comes second gets it as the first left it. */
async function queueCharged(services: LifecycleServices, id: Types.ObjectId): Promise<GenerationDocument> {
  const queued = await GenerationModel.findOneAndUpdate({ _id: id, status: 'CHARGING' }, { $set: { status: 'QUEUED' } }, { returnDocument: 'after' }).lean<GenerationDocument>();
  if (!queued) return current(id);
  publishGeneration(services.pubSub, queued);
  return queued;
}

async function current(id: Types.ObjectId): Promise<GenerationDocument> {
  const generation = await GenerationModel.findById(id).lean<GenerationDocument>();
  // Only generations never charged are ever deleted.
  if (!generation) throw new Error(`Generation ${String(id)} was charged but is gone.`);
  return generation;
}
