import { GenerationModel, type GenerationDocument } from '../generation.js';

type Queued = Pick<GenerationDocument, '_id' | 'createdAt' | 'status'>;

/** The queue's order, oldest first: the dispatcher takes jobs in it, and positions count in it. */
export const QUEUE_ORDER = { createdAt: 1, _id: 1 } as const;

/** Whether `a` comes before `b` in QUEUE_ORDER. */
export function isAhead(a: Queued, b: Queued): boolean {
  const byTime = a.createdAt.getTime() - b.createdAt.getTime();
  return byTime < 0 || (byTime === 0 && a._id.toHexString() < b._id.toHexString());
}

/** 1 for the next job out, counting only QUEUED ones; null for a job not in the queue. */
export async function queuePosition(generation: Queued): Promise<number | null> {
  if (generation.status !== 'QUEUED') return null;
  const ahead = await GenerationModel.countDocuments({
    status: 'QUEUED',
    $or: [{ createdAt: { $lt: generation.createdAt } }, { createdAt: generation.createdAt, _id: { $lt: generation._id } }],
  });
  return ahead + 1;
}
