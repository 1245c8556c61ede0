import { settleStaleCharges } from '../create/charging.js';
import { settleRefunds, type LifecycleServices } from '../events/lifecycle.js';
import { GenerationModel, type GenerationDocument } from '../generation.js';
import { retryOrFail } from './retry.js';

/**
 * Ends the lease of RUNNING jobs silent past it (retried once, then failed and refunded), and
 * settles what a crash left half done: refunds owed by ended jobs, generations left CHARGING.
 * Returns whether any job moved, so the caller can look at the queue again.
 */
export async function sweepLeases(services: LifecycleServices, leaseMs: number): Promise<boolean> {
  const now = new Date();
  const expired = await GenerationModel.find({ status: 'RUNNING', leaseExpiresAt: { $lte: now } }).lean<GenerationDocument[]>();
  let moved = false;
  for (const job of expired) {
    services.logger.warn({ generationId: String(job._id), attempt: job.attempt }, 'the GPU function went silent past the lease');
    const failure = { errorCode: 'LEASE_EXPIRED', error: `The GPU function stopped reporting (silent for over ${Math.round(leaseMs / 1000)} s).` };
    if (await retryOrFail(services, job, failure, now)) moved = true;
  }
  await settleRefunds(services);
  if (await settleStaleCharges(services)) moved = true;
  return moved;
}
