import { isValidObjectId } from 'mongoose';
import { z } from 'zod';
import { GenerationEvent, verifySignature, type CallbackReply } from '@easel/schema';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { FINAL_STATUSES, GenerationModel, type GenerationDocument, type StoredImage } from '../generation.js';
import { deleteImages, storeGeneratedImage } from '../images/image-store.js';
import { readInfotext } from '../images/infotext.js';
import { loraWarnings } from './generation-warnings.js';
import { announceGeneration, finishGeneration, type LifecycleServices } from './lifecycle.js';
import type { RunningJob, RunningJobs } from './running-jobs.js';

/*
 * What the GPU function's events do to a generation (the HTTP side is http/callbacks.ts).
 *
 * An event changes something only when it is signed with the current attempt's secret, names
 * the current attempt of a RUNNING job, and carries a sequence number above the last one applied.
 * Everything else changes nothing and says why (EventRefusal), so that the function knows what
 * to do. Each change is one conditional update (on _id, attempt, status RUNNING and the
 * sequence), so events racing each other, the lease sweep or a cancel cannot both win.
 */

export interface EventOptions {
  services: LifecycleServices;
  /** Woken when a job ends, so its slot goes to the next one at once. */
  dispatcher: Pick<Dispatcher, 'notify'>;
  leaseMs: number;
  /** This instance's snapshots of the jobs it applies events to. */
  runningJobs: RunningJobs;
}

export type RefusalCode = 'NOT_FOUND' | 'JOB_ENDED' | 'STALE_ATTEMPT' | 'BAD_SIGNATURE' | 'INVALID_EVENT' | 'EVENT_TOO_LARGE';

/** Why a request changes nothing, as the function is told. */
export class EventRefusal {
  constructor(
    readonly code: RefusalCode,
    readonly message: string,
  ) {}
}

export const refusals = {
  notFound: new EventRefusal('NOT_FOUND', 'No such generation.'),
  ended: new EventRefusal('JOB_ENDED', 'This generation has ended; stop working on it.'),
  staleAttempt: new EventRefusal('STALE_ATTEMPT', "This attempt is no longer the generation's current one; stop working on it."),
  badSignature: new EventRefusal('BAD_SIGNATURE', 'The signature header is missing, malformed, expired or does not match.'),
};

/** The job a callback may act on: RUNNING with a secret; otherwise why not. */
export async function currentJob(id: string): Promise<RunningJob | EventRefusal> {
  const job = isValidObjectId(id) ? await GenerationModel.findById(id).lean<GenerationDocument>() : null;
  if (!job) return refusals.notFound;
  if (FINAL_STATUSES.includes(job.status)) return refusals.ended;
  if (job.status !== 'RUNNING' || !job.jobSecret) return refusals.staleAttempt;
  return job as RunningJob;
}

/**
 * Checks one posted event against its job and applies it. The caller looked the job up, or took
 * the instance's snapshot of it (`snapshot`: running-jobs.ts), which serves only the usual path;
 * off it, the job is read afresh and judged as stored.
 */
export async function receiveEvent(
  options: EventOptions,
  job: RunningJob,
  body: Buffer,
  signature: string | undefined,
  snapshot = false,
): Promise<CallbackReply | EventRefusal> {
  const id = String(job._id);
  const afresh = async () => {
    const stored = await currentJob(id);
    return stored instanceof EventRefusal ? stored : receiveEvent(options, stored, body, signature);
  };
  const json = parseJson(body);
  if (!verifySignature(job.jobSecret, body, signature).ok) {
    if (snapshot) return afresh(); // signed with a newer attempt's secret?
    // Events of an earlier attempt were signed with that attempt's secret, so they land here.
    const attempt = (json as { attempt?: unknown } | undefined)?.attempt;
    return typeof attempt === 'number' && attempt < job.attempt ? refusals.staleAttempt : refusals.badSignature;
  }
  const parsed = GenerationEvent.safeParse(json);
  if (!parsed.success) return new EventRefusal('INVALID_EVENT', `Not a generation event: ${z.prettifyError(parsed.error)}`);
  const event = parsed.data;
  if (event.jobId !== id) return new EventRefusal('INVALID_EVENT', 'The event names another generation.');
  if (snapshot && (event.attempt !== job.attempt || event.sequence <= job.lastSequence)) return afresh();
  if (event.attempt !== job.attempt) return refusals.staleAttempt;
  // A retry of a post that got through, or a replay: already applied. The post that got through
  // may have crashed before recording its deliveries; recording them again is a no-op otherwise.
  if (event.sequence <= job.lastSequence) {
    if (event.sequence === job.lastSequence) await options.services.recordDeliveries(job);
    return { cancel: job.cancelRequested };
  }

  const applied = await applyEvent(options, job, event);
  if (applied) {
    options.runningJobs.remember(applied);
    return { cancel: applied.cancelRequested && !FINAL_STATUSES.includes(applied.status) };
  }
  // Lost a race: to a duplicate of this event (fine), or to whatever ended or moved the job.
  const now = await currentJob(id);
  if (now instanceof EventRefusal) return now;
  return now.attempt === event.attempt && event.sequence <= now.lastSequence ? { cancel: now.cancelRequested } : refusals.staleAttempt;
}

/** Applies one event with one conditional update; null when the job was no longer as the event expects. */
export async function applyEvent(options: EventOptions, job: GenerationDocument, event: GenerationEvent): Promise<GenerationDocument | null> {
  const { services, leaseMs } = options;
  const now = Date.now();
  const current = { _id: job._id, status: 'RUNNING', attempt: event.attempt, lastSequence: { $lt: event.sequence } };
  const extendLease = { lastSequence: event.sequence, leaseExpiresAt: new Date(now + leaseMs) };

  switch (event.type) {
    case 'started':
      return announceIf(services, await update(current, { ...extendLease, startedAt: new Date(now) }));

    case 'progress': {
      const changes: Record<string, unknown> = { ...extendLease, step: event.step, totalSteps: event.totalSteps };
      const eta = etaSeconds(job.startedAt ?? job.dispatchedAt, now, event.step, event.totalSteps);
      if (eta !== undefined) changes.etaSeconds = eta;
      if (event.previewWebp) changes.preview = Buffer.from(event.previewWebp, 'base64');
      return announceIf(services, await update(current, changes));
    }

    case 'completed': {
      // The images first: once the job says SUCCEEDED, its images must be there to serve.
      const generationId = String(job._id);
      const images: StoredImage[] = [];
      for (const image of event.images) {
        const png = Buffer.from(image.png, 'base64');
        const fileId = await storeGeneratedImage({ userId: job.userId, generationId, png, ...pick(image) });
        images.push({ fileId, infotext: await readInfotext(png), ...pick(image) });
      }
      const ended = await finishGeneration(
        services,
        job._id,
        {
          status: 'SUCCEEDED',
          images,
          // Those it was stored with (what its prompt does), then the function's.
          warnings: [...(job.warnings ?? []), ...loraWarnings(event.loras)],
          timings: { queueMs: job.dispatchedAt ? job.dispatchedAt.getTime() - job.createdAt.getTime() : undefined, ...event.timings },
        },
        { statuses: ['RUNNING'], attempt: event.attempt },
      );
      if (ended) {
        options.dispatcher.notify();
      } else {
        // Lost to a duplicate of this event, or to whatever ended the job first: nothing refers to these files.
        await deleteImages('images', images.map((image) => image.fileId)).catch((error: unknown) => {
          services.logger.warn({ err: error, generationId }, 'could not delete the images of a completion that lost its race');
        });
      }
      return ended;
    }

    case 'failed': {
      const cancelled = event.code === 'CANCELLED' && job.cancelRequested;
      const ended = await finishGeneration(
        services,
        job._id,
        cancelled
          ? { status: 'CANCELLED', errorCode: 'CANCELLED', error: 'Cancelled.' }
          : { status: 'FAILED', errorCode: event.code, error: `${event.reason} Your tokens were refunded.` },
        { statuses: ['RUNNING'], attempt: event.attempt },
      );
      if (ended) options.dispatcher.notify();
      return ended;
    }
  }
}

function update(filter: Record<string, unknown>, changes: Record<string, unknown>): Promise<GenerationDocument | null> {
  return GenerationModel.findOneAndUpdate(filter, { $set: changes }, { returnDocument: 'after' }).lean<GenerationDocument>();
}

async function announceIf(services: LifecycleServices, job: GenerationDocument | null): Promise<GenerationDocument | null> {
  if (job) await announceGeneration(services, job);
  return job;
}

/** Seconds left at the pace since the job started (which includes loading the model on a cold function). */
export function etaSeconds(since: Date | undefined, now: number, step: number, totalSteps: number): number | undefined {
  if (!since || step <= 0) return undefined;
  const perStep = (now - since.getTime()) / 1000 / step;
  return Math.max(0, Math.round(perStep * (totalSteps - step) * 10) / 10);
}

const pick = ({ seed, width, height }: StoredImage | { seed: number; width: number; height: number }) => ({ seed, width, height });

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
