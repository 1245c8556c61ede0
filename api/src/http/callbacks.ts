import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { isValidObjectId } from 'mongoose';
import { z } from 'zod';
import { GenerationEvent, type CallbackReply } from '@easel/schema';
import { SIGNATURE_HEADER, verifySignature } from '@easel/schema';
import type { Dispatcher } from '../generations/dispatch/dispatcher.js';
import { FINAL_STATUSES, GenerationModel, type GenerationDocument, type StoredImage } from '../generations/generation.js';
import { deleteImages, findImage, openImage, storeGeneratedImage } from '../generations/images/image-store.js';
import { readInfotext } from '../generations/images/infotext.js';
import { CALLBACK_ROUTE } from '../generations/dispatch/job-request.js';
import { finishGeneration, type LifecycleServices } from '../generations/events/lifecycle.js';
import { publishGeneration } from '../generations/events/publisher.js';

/*
 * The GPU function's side door: POST <CALLBACK_ROUTE>/:id receives a job's events, GET
 * <CALLBACK_ROUTE>/:id/base-image serves its img2img base image.
 *
 * A request changes something only when it is signed with the current attempt's secret, names
 * the current attempt of a RUNNING job, and carries a sequence number above the last one applied.
 * Everything else changes nothing and is answered so that the function knows what to do:
 *   404 no such job, 410 the job has ended, 409 this attempt is no longer the job's
 *     → the function stops (its callback client treats these as cancel)
 *   401 bad, missing or expired signature    400 not an event
 *   200 { cancel } applied, or a duplicate of an event already applied
 * Each change is one conditional update (on _id, attempt, status RUNNING and the sequence), so
 * events racing each other, the lease sweep or a cancel cannot both win.
 */

/** Four 1024² PNGs in base64, with room to spare. */
const MAX_EVENT_BYTES = '64mb';

export interface CallbackOptions {
  services: LifecycleServices;
  /** Woken when a job ends, so its slot goes to the next one at once. */
  dispatcher: Pick<Dispatcher, 'notify'>;
  leaseMs: number;
}

/** Why a request changes nothing, as the function is told. */
class Refusal {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 410,
    readonly code: string,
    readonly message: string,
  ) {}
}

const refusals = {
  notFound: new Refusal(404, 'NOT_FOUND', 'No such generation.'),
  ended: new Refusal(410, 'JOB_ENDED', 'This generation has ended; stop working on it.'),
  staleAttempt: new Refusal(409, 'STALE_ATTEMPT', "This attempt is no longer the generation's current one; stop working on it."),
  badSignature: new Refusal(401, 'BAD_SIGNATURE', `The ${SIGNATURE_HEADER} header is missing, expired or does not match.`),
};

export function callbackRouter(options: CallbackOptions): express.Router {
  const router = express.Router();
  router.post(`${CALLBACK_ROUTE}/:id`, express.raw({ type: () => true, limit: MAX_EVENT_BYTES }), async (request, response) => {
    const generationId = String(request.params.id);
    const result = await receiveEvent(options, generationId, rawBody(request), request.get(SIGNATURE_HEADER));
    if (result instanceof Refusal) {
      // A bad signature is someone other than the job's function knocking.
      options.services.logger[result.status === 401 ? 'warn' : 'info']({ generationId, status: result.status, code: result.code }, 'callback refused');
      return refuse(response, result);
    }
    response.json(result satisfies CallbackReply);
  });
  router.get(`${CALLBACK_ROUTE}/:id/base-image`, async (request, response) => {
    const job = await currentJob(String(request.params.id));
    if (job instanceof Refusal) return refuse(response, job);
    if (!verifySignature(job.jobSecret, '', request.get(SIGNATURE_HEADER)).ok) return refuse(response, refusals.badSignature);
    const file = job.baseImageId && (await findImage('uploads', String(job.baseImageId), job.userId));
    if (!file) return refuse(response, new Refusal(404, 'NOT_FOUND', 'This generation has no base image.'));
    response.type(file.metadata.contentType).setHeader('content-length', file.length);
    openImage(file)
      .on('error', (error) => response.destroy(error))
      .pipe(response);
  });
  router.use(CALLBACK_ROUTE, callbackErrors(options.services.logger));
  return router;
}

/** The job a callback may act on: RUNNING with a secret; otherwise why not. */
async function currentJob(id: string): Promise<(GenerationDocument & { jobSecret: string }) | Refusal> {
  const job = isValidObjectId(id) ? await GenerationModel.findById(id).lean<GenerationDocument>() : null;
  if (!job) return refusals.notFound;
  if (FINAL_STATUSES.includes(job.status)) return refusals.ended;
  if (job.status !== 'RUNNING' || !job.jobSecret) return refusals.staleAttempt;
  return job as GenerationDocument & { jobSecret: string };
}

async function receiveEvent(options: CallbackOptions, id: string, body: Buffer, signature: string | undefined): Promise<CallbackReply | Refusal> {
  const job = await currentJob(id);
  if (job instanceof Refusal) return job;
  const json = parseJson(body);
  if (!verifySignature(job.jobSecret, body, signature).ok) {
    // Events of an earlier attempt were signed with that attempt's secret, so they land here.
    const attempt = (json as { attempt?: unknown } | undefined)?.attempt;
    return typeof attempt === 'number' && attempt < job.attempt ? refusals.staleAttempt : refusals.badSignature;
  }
  const parsed = GenerationEvent.safeParse(json);
  if (!parsed.success) return new Refusal(400, 'INVALID_EVENT', `Not a generation event: ${z.prettifyError(parsed.error)}`);
  const event = parsed.data;
  if (event.jobId !== id) return new Refusal(400, 'INVALID_EVENT', 'The event names another generation.');
  if (event.attempt !== job.attempt) return refusals.staleAttempt;
  // A retry of a post that got through, or a replay: already applied.
  if (event.sequence <= job.lastSequence) return { cancel: job.cancelRequested };

  const applied = await applyEvent(options, job, event);
  if (applied) return { cancel: applied.cancelRequested && !FINAL_STATUSES.includes(applied.status) };
  // Lost a race: to a duplicate of this event (fine), or to whatever ended or moved the job.
  const now = await currentJob(id);
  if (now instanceof Refusal) return now;
  return now.attempt === event.attempt && event.sequence <= now.lastSequence ? { cancel: now.cancelRequested } : refusals.staleAttempt;
}

/** Applies one event with one conditional update; null when the job was no longer as the event expects. */
async function applyEvent(options: CallbackOptions, job: GenerationDocument, event: GenerationEvent): Promise<GenerationDocument | null> {
  const { services, leaseMs } = options;
  const now = Date.now();
  const current = { _id: job._id, status: 'RUNNING', attempt: event.attempt, lastSequence: { $lt: event.sequence } };
  const extendLease = { lastSequence: event.sequence, leaseExpiresAt: new Date(now + leaseMs) };

  switch (event.type) {
    case 'started':
      return publishIf(services, await update(current, { ...extendLease, startedAt: new Date(now) }));

    case 'progress': {
      const changes: Record<string, unknown> = { ...extendLease, step: event.step, totalSteps: event.totalSteps };
      const eta = etaSeconds(job.startedAt ?? job.dispatchedAt, now, event.step, event.totalSteps);
      if (eta !== undefined) changes.etaSeconds = eta;
      if (event.previewWebp) changes.preview = Buffer.from(event.previewWebp, 'base64');
      return publishIf(services, await update(current, changes));
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

function publishIf(services: LifecycleServices, job: GenerationDocument | null): GenerationDocument | null {
  if (job) publishGeneration(services.pubSub, job);
  return job;
}

/** Seconds left at the pace since the job started (which includes loading the model on a cold function). */
export function etaSeconds(since: Date | undefined, now: number, step: number, totalSteps: number): number | undefined {
  if (!since || step <= 0) return undefined;
  const perStep = (now - since.getTime()) / 1000 / step;
  return Math.max(0, Math.round(perStep * (totalSteps - step) * 10) / 10);
}

const pick = ({ seed, width, height }: StoredImage | { seed: number; width: number; height: number }) => ({ seed, width, height });

function rawBody(request: Request): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function refuse(response: Response, { status, code, message }: Refusal): void {
  response.status(status).json({ code, message });
}

/** Body too large or unreadable, or a bug: JSON the function can log, never an HTML page. */
function callbackErrors(logger: LifecycleServices['logger']): ErrorRequestHandler {
  return (error, _request, response, _next) => {
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) logger.error({ err: error }, 'callback failed');
    response.status(status).json({ code: status === 413 ? 'EVENT_TOO_LARGE' : status === 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST', message: error.message });
  };
}
