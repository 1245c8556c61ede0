import type { LoraCatalog } from '../../catalog/lora-catalog.js';
import type { LifecycleServices } from '../events/lifecycle.js';
import type { GenerationDocument } from '../generation.js';
import { claimWhatFits, type ClaimLimits } from './claim.js';
import { DatabaseLock } from './dispatch-lock.js';
import { jobRequest } from './job-request.js';
import { loraFilesOrEnd } from './job-loras.js';
import type { GpuFunction } from './lambda.js';
import { sweepLeases } from './lease-sweep.js';
import { retryOrFail } from './retry.js';

/*
 * The dispatcher: QUEUED generations out to the GPU function, first in first out, within limits.
 *
 *   notify() ─▶ take the dispatch lock ─▶ claim the oldest QUEUED jobs that fit (claim.ts)
 *            ─▶ release ─▶ the LoRA files from the catalog (job-loras.ts: a LoRA removed since
 *               the job was queued ends it, refunded) ─▶ invoke the function (Event; job-request.ts, lambda.ts)
 *   timer    ─▶ sweep leases (lease-sweep.ts): a RUNNING job silent past its lease is retried
 *               once, then failed (retry.ts)
 *
 * This file is the scheduling: one pass at a time per process, wake-ups, timers, stopping.
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

const LOCK_TTL_MS = 5_000;
/** Another instance holds the lock: look again soon, its pass may have missed our job. */
const LOCK_BUSY_RETRY_MS = 20;
const PASS_ERROR_RETRY_MS = 1_000;

export interface DispatcherOptions extends ClaimLimits {
  services: LifecycleServices;
  /** Where a job's LoRA files and their hashes are looked up when it is dispatched. */
  loras: LoraCatalog;
  gpu: GpuFunction;
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
  const { services, gpu, leaseMs } = options;
  const { logger } = services;
  const limits: ClaimLimits = { concurrency: options.concurrency, perUser: options.perUser, leaseMs };
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
    if (limits.concurrency === 0) return;
    if (!(await lock.acquire())) return retryLater(LOCK_BUSY_RETRY_MS);
    let claimed: GenerationDocument[];
    try {
      claimed = await claimWhatFits(services, limits);
    } finally {
      await lock.release();
    }
    // Outside the lock: the claims already count against the limits.
    await Promise.all(claimed.map(deliver));
  }

  /** Hands a claimed job to the function; a job that cannot be handed over is retried or failed. */
  async function deliver(job: GenerationDocument): Promise<void> {
    const generationId = String(job._id);
    try {
      const loraFiles = await loraFilesOrEnd(services, options.loras, job);
      if (!loraFiles) return notify();
      await gpu.invoke(jobRequest(job, callbackBase!, loraFiles));
      logger.debug({ generationId, attempt: job.attempt }, 'job handed to the GPU function');
    } catch (error) {
      logger.warn({ err: error, generationId, attempt: job.attempt }, 'the GPU function could not be invoked');
      if (await retryOrFail(services, job, { errorCode: 'DISPATCH_FAILED', error: 'The GPU function could not be reached.' })) notify();
    }
  }

  async function sweep(): Promise<void> {
    sweeping ??= sweepLeases(services, leaseMs)
      .then((moved) => {
        if (moved) notify();
      })
      .finally(() => (sweeping = undefined));
    return sweeping;
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
      logger.info({ concurrency: limits.concurrency, perUser: limits.perUser, leaseSeconds: leaseMs / 1000 }, 'dispatcher started');
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
