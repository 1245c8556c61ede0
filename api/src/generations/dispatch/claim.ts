import { randomBytes } from 'node:crypto';
import type { Plan } from '../../accounts/accounts.js';
import { finishGeneration, type LifecycleServices } from '../events/lifecycle.js';
import { publishGeneration } from '../events/publisher.js';
import { GenerationModel, type GenerationDocument } from '../generation.js';

export interface ClaimLimits {
  /** Jobs running at once, over all instances. */
  concurrency: number;
  /** Jobs one user may have running at once, by the plan the job was made under. */
  perUser: Record<Plan, number>;
  /** How long a claimed job may stay silent. */
  leaseMs: number;
}

/**
 * Claims the oldest QUEUED jobs that fit under the global and per-user limits, counting the
 * RUNNING jobs in the database (so the limits hold across instances; the caller holds the
 * dispatch lock). A user at their limit does not hold up the users queued behind them.
 */
export async function claimWhatFits(services: LifecycleServices, limits: ClaimLimits): Promise<GenerationDocument[]> {
  const running = await GenerationModel.find({ status: 'RUNNING' }).lean<GenerationDocument[]>();
  let free = limits.concurrency - running.length;
  const runningPerUser = new Map<string, number>();
  for (const job of running) runningPerUser.set(job.userId, (runningPerUser.get(job.userId) ?? 0) + 1);
  const usersAtLimit = new Set<string>();
  const claimed: GenerationDocument[] = [];

  // Each round either claims a job or leaves its candidates out of the next query (their user
  // is at the limit, or someone else took or ended them), so the loop ends.
  while (free > 0) {
    const candidates = await GenerationModel.find({ status: 'QUEUED', userId: { $nin: [...usersAtLimit] } })
      .sort({ createdAt: 1, _id: 1 })
      .limit(free)
      .lean<GenerationDocument[]>();
    if (candidates.length === 0) break;
    for (const candidate of candidates) {
      if (free === 0) break;
      const runningForUser = runningPerUser.get(candidate.userId) ?? 0;
      if (runningForUser >= limits.perUser[candidate.plan]) {
        usersAtLimit.add(candidate.userId);
        continue;
      }
      const job = await claim(services, candidate, limits.leaseMs);
      if (!job) continue;
      claimed.push(job);
      free--;
      runningPerUser.set(job.userId, runningForUser + 1);
    }
  }
  return claimed;
}

/**
 * QUEUED → RUNNING for the next attempt, with its own secret and lease: one conditional update,
 * so only one instance wins it, and events signed for an older attempt no longer verify. Null
 * when it is no longer QUEUED (or was cancelled while it waited, and ends here).
 */
async function claim(services: LifecycleServices, candidate: GenerationDocument, leaseMs: number): Promise<GenerationDocument | null> {
  if (candidate.cancelRequested) {
    await finishGeneration(services, candidate._id, { status: 'CANCELLED', errorCode: 'CANCELLED', error: 'Cancelled.' }, {
      statuses: ['QUEUED'],
      attempt: candidate.attempt,
    });
    return null;
  }
  const now = Date.now();
  const job = await GenerationModel.findOneAndUpdate(
    { _id: candidate._id, status: 'QUEUED', attempt: candidate.attempt },
    {
      $set: {
        status: 'RUNNING',
        jobSecret: randomBytes(32).toString('base64url'),
        leaseExpiresAt: new Date(now + leaseMs),
        dispatchedAt: new Date(now),
        lastSequence: -1,
        step: 0,
      },
      $unset: { etaSeconds: 1, preview: 1, startedAt: 1 },
      $inc: { attempt: 1 },
    },
    { returnDocument: 'after' },
  ).lean<GenerationDocument>();
  if (job) publishGeneration(services.pubSub, job);
  return job;
}
