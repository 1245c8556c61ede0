import { randomBytes } from 'node:crypto';
import type { Plan } from '../../accounts/accounts.js';
import { settleStaleCharges } from '../create/charging.js';
import { DatabaseLock } from './dispatch-lock.js';
import { GenerationModel, type GenerationDocument } from '../generation.js';
import { jobRequest } from './job-request.js';
import type { GpuFunction } from './lambda.js';
import { finishGeneration, settleRefunds, type LifecycleServices } from '../events/lifecycle.js';
import { publishGeneration } from '../events/publisher.js';

/*
 * The dispatcher: QUEUED generations out to the GPU function, first in first out, within limits.
 *
 *   notify() ─▶ take the dispatch lock ─▶ count RUNNING jobs (all, and per user)
 *            ─▶ claim the oldest QUEUED jobs that fit ─▶ release ─▶ invoke the function (Event)
 *   timer    ─▶ sweep leases: a RUNNING job silent past its lease is retried once, then failed
 *
 * What it guarantees, with any number of API instances on one database:
 * - A job is claimed once per attempt: the claim is a conditional update QUEUED → RUNNING that
 *   bumps `attempt` and draws a fresh secret, so only one instance wins it, and events signed for
 *   an older attempt no longer verify.
 * - The global limit (GPU_CONCURRENCY) and the per-user limit hold across instances: passes
 *   count RUNNING jobs in the database and run one at a time under a lock in the database (see
 *   DatabaseLock). The lock's ttl is the one gap: a pass stalled longer than LOCK_TTL_MS (a
 *   frozen process) may overlap the next, and the limits can then be exceeded until a job ends.
 * - A user at their limit does not hold up the users queued behind them.
 * - Nothing waits on a timer in the common case: generateImage calls notify(), so do ending
 *   jobs; the sweep's periodic pass is the net for wake-ups sent to another instance.
 * - After a restart, QUEUED jobs are dispatched and RUNNING jobs keep their leases (their function
 *   may still be calling back); ended jobs still owed a refund get it (see lifecycle.ts), and
 *   generations left CHARGING by a crashed request are queued or dropped by their ledger
 *   (see charging.ts).
 */

/** A job is delivered at most this many times: the first attempt and one retry. */
export const MAX_ATTEMPTS = 2;

const LOCK_TTL_MS = 5_000;
/** Another instance holds the lock: look again soon, its pass may have missed our job. */
const LOCK_BUSY_RETRY_MS = 20;
const PASS_ERROR_RETRY_MS = 1_000;

export interface DispatcherOptions {
  services: LifecycleServices;
  gpu: GpuFunction;
  /** Jobs running at once, over all instances. */
  concurrency: number;
  /** Jobs one user may have running at once, by the plan the job was made under. */
  perUser: Record<Plan, number>;
  /** How long a RUNNING job may stay silent. */
  leaseMs: number;
  /** How often leases are checked; default a quarter of the lease, between 50 ms and 5 s. */
  sweepIntervalMs?: number;
}

export interface Dispatcher {
  /** Starts dispatching and sweeping; `callbackBase` is the URL the function posts events to. */
  start(callbackBase: string): void;
  /** Something changed (a job queued or ended): look at the queue now. */
  notify(): void;
  /**
   * Ends the lease of silent RUNNING jobs (retry once, then fail and refund), and settles what a
   * crash left half done: refunds, charges. Runs on a timer too.
   */
  sweep(): Promise<void>;
  /** Stops taking jobs, waits for the pass in progress and closes the function's client; jobs in flight keep their leases. */
  stop(): Promise<void>;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { services, gpu, concurrency, perUser, leaseMs } = options;
  const { logger } = services;
  const sweepIntervalMs = options.sweepIntervalMs ?? Math.min(5_000, Math.max(50, leaseMs / 4));
  const lock = new DatabaseLock('generation-dispatch', LOCK_TTL_MS);

  let callbackBase: string | undefined;
  let stopped = true;
  let wanted = false;
  let passes: Promise<void> | undefined;
  let sweeping: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  function notify(): void {
    if (stopped) return;
    wanted = true;
    passes ??= runPasses().finally(() => (passes = undefined));
  }

  /** One pass at a time in this process; a notify during a pass asks for one more. */
  async function runPasses(): Promise<void> {
    while (wanted && !stopped) {
      wanted = false;
      try {
        await dispatchPass();
      } catch (error) {
        logger.error({ err: error }, 'dispatch pass failed; trying again shortly');
        retryLater(PASS_ERROR_RETRY_MS);
      }
    }
  }

  function retryLater(ms: number): void {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      notify();
    }, ms);
  }

  async function dispatchPass(): Promise<void> {
    if (concurrency === 0) return;
    if (!(await lock.acquire())) return retryLater(LOCK_BUSY_RETRY_MS);
    let claimed: GenerationDocument[];
    try {
      claimed = await claimWhatFits();
    } finally {
      await lock.release();
    }
    // Outside the lock: the claims already count against the limits.
    await Promise.all(claimed.map(deliver));
  }

  /** Claims the oldest QUEUED jobs that fit under the global and per-user limits. */
  async function claimWhatFits(): Promise<GenerationDocument[]> {
    const running = await GenerationModel.find({ status: 'RUNNING' }).lean<GenerationDocument[]>();
    let free = concurrency - running.length;
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
        if (runningForUser >= perUser[candidate.plan]) {
          usersAtLimit.add(candidate.userId);
          continue;
        }
        const job = await claim(candidate);
        if (!job) continue;
        claimed.push(job);
        free--;
        runningPerUser.set(job.userId, runningForUser + 1);
      }
    }
    return claimed;
  }

  /** QUEUED → RUNNING for the next attempt, with its own secret and lease; null when it is no longer QUEUED. */
  async function claim(candidate: GenerationDocument): Promise<GenerationDocument | null> {
    if (candidate.cancelRequested) {
      // Cancelled while it waited for a retry: it ends here instead of going out.
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

  /** Hands a claimed job to the function; a job that cannot be handed over is retried or failed. */
  async function deliver(job: GenerationDocument): Promise<void> {
    const generationId = String(job._id);
    try {
      await gpu.invoke(jobRequest(job, callbackBase!));
      logger.debug({ generationId, attempt: job.attempt }, 'job handed to the GPU function');
    } catch (error) {
      logger.warn({ err: error, generationId, attempt: job.attempt }, 'the GPU function could not be invoked');
      await retryOrFail(job, {
        errorCode: 'DISPATCH_FAILED',
        error: 'The GPU function could not be reached.',
      });
    }
  }

  /**
   * The attempt is over without a word from the function: back to the queue if it has a retry
   * left, else FAILED (CANCELLED when the user asked), refunded. `leaseExpiredBy` keeps an event
   * that just extended the lease from being overruled.
   */
  async function retryOrFail(job: GenerationDocument, failure: { errorCode: string; error: string }, leaseExpiredBy?: Date): Promise<void> {
    const current: Record<string, unknown> = { _id: job._id, status: 'RUNNING', attempt: job.attempt };
    if (leaseExpiredBy) current.leaseExpiresAt = { $lte: leaseExpiredBy };
    if (job.attempt < MAX_ATTEMPTS && !job.cancelRequested) {
      const requeued = await GenerationModel.findOneAndUpdate(
        { ...current, cancelRequested: false },
        { $set: { status: 'QUEUED', step: 0 }, $unset: { jobSecret: 1, leaseExpiresAt: 1, etaSeconds: 1, preview: 1 } },
        { returnDocument: 'after' },
      ).lean<GenerationDocument>();
      if (requeued) {
        logger.info({ generationId: String(job._id), attempt: job.attempt, reason: failure.errorCode }, 'generation queued for its retry');
        publishGeneration(services.pubSub, requeued);
        notify();
        return;
      }
    }
    const cancelled = job.cancelRequested || (await GenerationModel.exists({ ...current, cancelRequested: true })) !== null;
    const outcome = cancelled
      ? { status: 'CANCELLED' as const, errorCode: 'CANCELLED', error: 'Cancelled.' }
      : { status: 'FAILED' as const, errorCode: failure.errorCode, error: `${failure.error} Your tokens were refunded.` };
    const ended = await finishGeneration(services, job._id, outcome, { statuses: ['RUNNING'], attempt: job.attempt, leaseExpiredBy });
    if (ended) notify();
  }

  async function sweep(): Promise<void> {
    sweeping ??= sweepLeases().finally(() => (sweeping = undefined));
    return sweeping;
  }

  async function sweepLeases(): Promise<void> {
    const now = new Date();
    const expired = await GenerationModel.find({ status: 'RUNNING', leaseExpiresAt: { $lte: now } }).lean<GenerationDocument[]>();
    for (const job of expired) {
      logger.warn({ generationId: String(job._id), attempt: job.attempt }, 'the GPU function went silent past the lease');
      await retryOrFail(
        job,
        { errorCode: 'LEASE_EXPIRED', error: `The GPU function stopped reporting (silent for over ${Math.round(leaseMs / 1000)} s).` },
        now,
      );
    }
    await settleRefunds(services);
    if (await settleStaleCharges(services)) notify();
  }

  function scheduleSweep(): void {
    sweepTimer = setTimeout(() => {
      sweep()
        .catch((error: unknown) => logger.error({ err: error }, 'lease sweep failed'))
        .finally(() => {
          if (stopped) return;
          scheduleSweep();
          notify(); // the net: wake-ups sent to other instances, or lost in a crash
        });
    }, sweepIntervalMs);
    sweepTimer.unref();
  }

  return {
    start(base) {
      if (!stopped) return;
      callbackBase = base;
      stopped = false;
      logger.info({ concurrency, perUser, leaseSeconds: leaseMs / 1000 }, 'dispatcher started');
      scheduleSweep();
      notify();
    },
    notify,
    sweep,
    async stop() {
      stopped = true;
      clearTimeout(sweepTimer);
      clearTimeout(retryTimer);
      retryTimer = undefined;
      await Promise.allSettled([passes, sweeping]);
      await gpu.close();
    },
  };
}
