import express, { type ErrorRequestHandler, type Response } from 'express';
import getRawBody from 'raw-body';
import { checkSignatureHeader, EVENT_TYPE_HEADER, GenerationEvent, SIGNATURE_HEADER, verifySignature, type CallbackReply, type GenerationEventType } from '@easel/schema';
import { currentJob, EventRefusal, receiveEvent, refusals, type EventOptions, type RefusalCode } from '../generations/events/apply-event.js';
import { maxEventBytes } from '../generations/events/event-size.js';
import { CALLBACK_ROUTE } from '../generations/dispatch/job-request.js';
import { findImage, openImage } from '../generations/images/image-store.js';

/*
 * The GPU function's side door: POST <CALLBACK_ROUTE>/:id receives a job's events, GET
 * <CALLBACK_ROUTE>/:id/base-image serves its img2img base image. What an event does is
 * generations/events/apply-event.ts; here is what is checked before a byte of the body is read
 * (the job exists and runs, the signature header is well formed and fresh, the declared size
 * fits the event type), and how refusals are answered:
 *   404 no such job, 410 the job has ended, 409 this attempt is no longer the job's
 *     → the function stops (its callback client treats these as cancel)
 *   401 bad, missing or expired signature    400 not an event    413 larger than the event can be
 *   200 { cancel } applied, or a duplicate of an event already applied
 */

const STATUS: Record<RefusalCode, number> = {
  NOT_FOUND: 404,
  JOB_ENDED: 410,
  STALE_ATTEMPT: 409,
  BAD_SIGNATURE: 401,
  INVALID_EVENT: 400,
  EVENT_TOO_LARGE: 413,
};

const EVENT_TYPES = GenerationEvent.options.map((option) => option.shape.type.value);

export function callbackRouter(options: EventOptions): express.Router {
  const router = express.Router();
  const { logger } = options.services;

  router.post(`${CALLBACK_ROUTE}/:id`, async (request, response, next) => {
    const generationId = String(request.params.id);
    const refuse = (refusal: EventRefusal) => {
      // A bad signature is someone other than the job's function knocking.
      logger[refusal.code === 'BAD_SIGNATURE' ? 'warn' : 'info']({ generationId, status: STATUS[refusal.code], code: refusal.code }, 'callback refused');
      answer(response, refusal, { unread: !request.complete });
    };
    const snapshot = options.runningJobs.get(generationId);
    const job = snapshot ?? (await currentJob(generationId));
    if (job instanceof EventRefusal) return refuse(job);
    const signature = request.get(SIGNATURE_HEADER);
    if (!checkSignatureHeader(signature).ok) return refuse(refusals.badSignature);
    const type = eventType(request);
    if (type instanceof EventRefusal) return refuse(type);
    const limit = maxEventBytes(type, job.settings);
    if (Number(request.get('content-length')) > limit) return refuse(tooLarge(type, limit));

    let body: Buffer;
    try {
      // Stops reading past the limit, and leaves the rest unread (express.raw would read it all to discard it).
      body = await getRawBody(request, { limit });
    } catch (error) {
      if ((error as { type?: string }).type === 'entity.too.large') return refuse(tooLarge(type, limit));
      return next(error);
    }
    try {
      const result = await receiveEvent(options, job, body, signature, snapshot !== undefined);
      if (result instanceof EventRefusal) return refuse(result);
      response.json(result satisfies CallbackReply);
    } catch (failure) {
      next(failure);
    }
  });

  router.get(`${CALLBACK_ROUTE}/:id/base-image`, async (request, response) => {
    const job = await currentJob(String(request.params.id));
    if (job instanceof EventRefusal) return answer(response, job);
    if (!verifySignature(job.jobSecret, '', request.get(SIGNATURE_HEADER)).ok) return answer(response, refusals.badSignature);
    const file = job.baseImageId && (await findImage('uploads', String(job.baseImageId), job.userId));
    if (!file) return answer(response, new EventRefusal('NOT_FOUND', 'This generation has no base image.'));
    response.type(file.metadata.contentType).setHeader('content-length', file.length);
    openImage(file)
      .on('error', (error) => response.destroy(error))
      .pipe(response);
  });
  router.use(CALLBACK_ROUTE, callbackErrors(logger));
  return router;
}

/** The type the function says it posts; absent (an older function), the job's largest event is allowed. */
function eventType(request: express.Request): GenerationEventType | undefined | EventRefusal {
  const type = request.get(EVENT_TYPE_HEADER);
  if (type === undefined) return undefined;
  if ((EVENT_TYPES as string[]).includes(type)) return type as GenerationEventType;
  return new EventRefusal('INVALID_EVENT', `${EVENT_TYPE_HEADER} must be one of ${EVENT_TYPES.join(', ')}.`);
}

const tooLarge = (type: GenerationEventType | undefined, limit: number) =>
  new EventRefusal('EVENT_TOO_LARGE', `A ${type ?? 'completed'} event of this generation is at most ${limit} bytes.`);

/**
 * A refusal as JSON. When the body is still on its way, the connection is closed after the
 * answer, so that its bytes are not read at all.
 */
function answer(response: Response, { code, message }: EventRefusal, options: { unread?: boolean } = {}): void {
  if (options.unread) response.setHeader('connection', 'close');
  response.status(STATUS[code]).json({ code, message });
}

/** A body that could not be read, or a bug: JSON the function can log, never an HTML page. */
function callbackErrors(logger: EventOptions['services']['logger']): ErrorRequestHandler {
  return (error, _request, response, _next) => {
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) logger.error({ err: error }, 'callback failed');
    response.status(status).json({ code: status === 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST', message: status === 500 ? 'Internal error.' : error.message });
  };
}
