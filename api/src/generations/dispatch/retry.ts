import { finishGeneration, type LifecycleServices } from '../events/lifecycle.js';
import { publishGeneration } from '../events/publisher.js';
import { GenerationModel, type GenerationDocument } from '../generation.js';

/** A job is delivered at most this many times: the first attempt and one retry. */
export const MAX_ATTEMPTS = 2;

export interface AttemptFailure {
  errorCode: string;
  /** For the user; "Your tokens were refunded." is added when the job ends. */
  error: string;
}

/**
 * The attempt is over without a word from the function: back to the queue if it has a retry
 * left, else FAILED (CANCELLED when the user asked), refunded. `leaseExpiredBy` keeps an event
 * that just extended the lease from being overruled. Returns whether the job moved (requeued or
 * ended), so the caller can look at the queue again.
 */
export async function retryOrFail(
  services: LifecycleServices,
  job: GenerationDocument,
  failure: AttemptFailure,
  leaseExpiredBy?: Date,
): Promise<boolean> {
  const current: Record<string, unknown> = { _id: job._id, status: 'RUNNING', attempt: job.attempt };
  if (leaseExpiredBy) current.leaseExpiresAt = { $lte: leaseExpiredBy };
  if (job.attempt < MAX_ATTEMPTS && !job.cancelRequested) {
    const requeued = await GenerationModel.findOneAndUpdate(
      { ...current, cancelRequested: false },
      { $set: { status: 'QUEUED', step: 0 }, $unset: { jobSecret: 1, leaseExpiresAt: 1, etaSeconds: 1, preview: 1 } },
      { returnDocument: 'after' },
    ).lean<GenerationDocument>();
    if (requeued) {
      services.logger.info({ generationId: String(job._id), attempt: job.attempt, reason: failure.errorCode }, 'generation queued for its retry');
      publishGeneration(services.pubSub, requeued);
      return true;
    }
  }
  const cancelled = job.cancelRequested || (await GenerationModel.exists({ ...current, cancelRequested: true })) !== null;
  const outcome = cancelled
    ? { status: 'CANCELLED' as const, errorCode: 'CANCELLED', error: 'Cancelled.' }
    : { status: 'FAILED' as const, errorCode: failure.errorCode, error: `${failure.error} Your tokens were refunded.` };
  const ended = await finishGeneration(services, job._id, outcome, { statuses: ['RUNNING'], attempt: job.attempt, leaseExpiredBy });
  return ended !== null;
}
