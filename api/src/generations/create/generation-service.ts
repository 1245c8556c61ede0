import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import type { User } from '../../accounts/accounts.js';
import { KeyedSerializer } from '../../accounts/keyed-serializer.js';
import type { CatalogModel } from '../../catalog/catalog.js';
import { ConflictError, InvalidInputError, isDuplicateKeyError, NotFoundError } from '../../errors.js';
import type { Services } from '../../services.js';
import { enhancePrompts } from '../../prompts/enhance-prompts.js';
import { cleanPromptText, requirePromptText } from '../../prompts/prompt-text.js';
import { chargeGeneration, isStaleCharge, settleCharge } from './charging.js';
import { FINAL_STATUSES, GENERATION_STATUSES, GenerationModel, type GenerationDocument, type GenerationStatus } from '../generation.js';
import { findImage, OBJECT_ID } from '../images/image-store.js';
import { finishGeneration } from '../events/lifecycle.js';
import { publishGeneration } from '../events/publisher.js';
import { resolveLoras } from './loras.js';
import { promptEffects } from './prompt-effects.js';
import { resolveSettings, type GenerateImageRequest } from './settings.js';
import { WEBHOOK_EVENTS } from '../../webhooks/webhook-events.js';
import { checkWebhookUrl } from '../../webhooks/webhook-url.js';

/*
 * generateImage, and what a user does with their generations afterwards (read, list, cancel).
 *
 * Charging: the generation is stored first, CHARGING and hidden, then its tokens are debited,
 * then it is QUEUED (charging.ts says why every token charged then ends in an image or a refund,
 * wherever a crash falls). From there the lifecycle (lifecycle.ts) refunds what does not become
 * images.
 *
 * Idempotency: a clientRequestId makes the key `<user>:<clientRequestId>`, unique in the
 * database and taken by step 1, before anything is charged. Requests with one key run one after
 * another in this process, so the second finds the first's generation and charges nothing. Across
 * API instances the unique index decides: the loser's insert fails, and it returns the winner's
 * generation once the winner has charged it (or settles it, if the winner is gone).
 */

export const MAX_GENERATIONS_PAGE = 100;

/** Requests with the same idempotency key, one at a time (per process; the unique index covers the rest). */
const sameRequest = new KeyedSerializer();

/**
 * A user's requests are stored and charged one at a time (per process). The ledger serialises a
 * user's debits anyway; waiting before the generation is stored rather than after means a request
 * in a long queue has no CHARGING generation yet, which the charge sweep (counting from the
 * insert) would take for one whose request crashed, and void.
 */
const chargingTurns = new KeyedSerializer();

/** How often a request looks again at the same request's generation while another instance charges it. */
const CHARGE_POLL_MS = 25;

/** Each round lost means another request or the charge sweep made progress; this only trips on a bug. */
const CREATE_ATTEMPTS = 10;

/** What generateImage stores, before it has an id and a status. */
type GenerationDraft = Pick<
  GenerationDocument,
  | 'userId' | 'plan' | 'requestKey' | 'clientRequestId' | 'model' | 'prompt' | 'negativePrompt' | 'finalPrompt'
  | 'finalNegativePrompt' | 'enhancePrompt' | 'settings' | 'baseImageId' | 'tokensCharged' | 'totalSteps' | 'requestFingerprint' | 'webhook'
  | 'warnings'
>;

/**
 * Stores, charges and queues a generation; or returns the one this clientRequestId made before,
 * when it was made with the same parameters (CONFLICT otherwise, as Stripe answers a reused key).
 */
export async function generateImage(services: Services, user: User, given: GenerateImageRequest): Promise<GenerationDocument> {
  // Before anything is stored or charged: a prompt with nothing to draw, or broken text, is refused.
  const request: GenerateImageRequest = {
    ...given,
    prompt: requirePromptText('prompt', given.prompt),
    ...(given.negativePrompt !== undefined ? { negativePrompt: cleanPromptText('negativePrompt', given.negativePrompt) } : {}),
  };
  if (request.clientRequestId === undefined) return createGeneration(services, user, request);
  const requestKey = `${user.id}:${request.clientRequestId}`;
  return sameRequest.run(requestKey, () => createGeneration(services, user, request, requestKey));
}

async function createGeneration(services: Services, user: User, request: GenerateImageRequest, requestKey?: string): Promise<GenerationDocument> {
  let draft: GenerationDraft | undefined;
  for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
    const made = requestKey === undefined ? undefined : await madeBefore(services, requestKey);
    if (made) return sameParameters(made, request);
    const toStore = (draft ??= await draftGeneration(services, user, request, requestKey));
    const queued = await chargingTurns.run(user.id, () => storeAndCharge(services, toStore));
    if (queued) return queued;
  }
  throw new Error('generateImage could not store its generation: every attempt lost a race. Try again.');
}

/** Validates the request and makes what will be stored; throws before anything is stored or charged. */
async function draftGeneration(services: Services, user: User, request: GenerateImageRequest, requestKey?: string): Promise<GenerationDraft> {
  const model = await usableModel(services, request.modelId);
  if (request.baseImageId !== undefined && !(await findImage('uploads', request.baseImageId, user.id))) {
    throw new NotFoundError(`No uploaded image "${request.baseImageId}" among yours; upload one with POST /uploads and pass its id.`);
  }
  if (request.webhook) await checkWebhookUrl(request.webhook.url, services.config.isProduction);
  const enhancePrompt = request.enhancePrompt ?? true;
  const prompts = enhancePrompt
    ? enhancePrompts(model, await services.catalog.preset(model.family), request)
    : { prompt: request.prompt, negativePrompt: request.negativePrompt ?? '' };
  const resolved = await resolveLoras(services.loras, model, prompts.prompt, request.loras);
  const settings = { ...resolveSettings(model, request, prompts), loras: resolved.loras };
  const warnings = await promptEffects(services, model, resolved.prompt);
  return {
    userId: user.id,
    plan: user.plan,
    ...(requestKey ? { requestKey, clientRequestId: request.clientRequestId, requestFingerprint: fingerprint(request) } : {}),
    model: { id: model.id, name: model.name, family: model.family, path: model.path },
    prompt: request.prompt,
    negativePrompt: request.negativePrompt ?? '',
    finalPrompt: resolved.prompt,
    finalNegativePrompt: prompts.negativePrompt,
    enhancePrompt,
    settings,
    ...(request.baseImageId !== undefined ? { baseImageId: new Types.ObjectId(request.baseImageId) } : {}),
    tokensCharged: settings.batchSize,
    totalSteps: settings.steps,
    ...(request.webhook ? { webhook: { url: request.webhook.url, events: request.webhook.events ?? [...WEBHOOK_EVENTS] } } : {}),
    warnings,
  };
}

/** The parameters of a request, clientRequestId aside, as one hash: what makes two requests "the same". */
function fingerprint(request: GenerateImageRequest): string {
  const { clientRequestId: _key, ...parameters } = request;
  const entries = Object.entries(parameters).filter(([, value]) => value !== undefined).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url');
}

/** The generation this clientRequestId made, when this request asks for the same; CONFLICT when not. */
function sameParameters(made: GenerationDocument, request: GenerateImageRequest): GenerationDocument {
  // Generations stored before fingerprints existed cannot be compared: they are returned as before.
  if (made.requestFingerprint === undefined || made.requestFingerprint === fingerprint(request)) return made;
  throw new ConflictError(
    `clientRequestId "${request.clientRequestId}" was already used for generation ${String(made._id)} with other parameters; ` +
      'send the same parameters to get that generation, or a new clientRequestId for a new one.',
  );
}

/**
 * Stores the draft CHARGING, charges it and queues it (charging.ts). Undefined when it lost a race
 * and nothing was charged: another request took its clientRequestId first, or its charge was
 * voided while this request stalled.
 */
async function storeAndCharge(services: Services, draft: GenerationDraft): Promise<GenerationDocument | undefined> {
  let generation: GenerationDocument;
  try {
    generation = (await GenerationModel.create({ ...draft, status: 'CHARGING' })).toObject();
  } catch (error) {
    if (draft.requestKey !== undefined && isDuplicateKeyError(error)) return undefined;
    throw error;
  }
  const generationId = String(generation._id);
  const { batchSize } = draft.settings;
  const queued = await chargeGeneration(services.lifecycle, generation, `Generation ${generationId}: ${batchSize} image${batchSize === 1 ? '' : 's'} with ${draft.model.name}`);
  if (!queued) return undefined;
  services.logger.info({ generationId, userId: draft.userId, modelId: draft.model.id, batchSize }, 'generation queued');
  services.dispatcher.notify();
  return queued;
}

/**
 * The generation this request key made, once it is charged: while its creator (another API
 * instance) charges it, waits; when its creator has had its time, settles it. Undefined when there
 * is none, or it came to nothing.
 */
async function madeBefore(services: Services, requestKey: string): Promise<GenerationDocument | undefined> {
  for (;;) {
    const made = await findByRequestKey(requestKey);
    if (made?.status !== 'CHARGING') return made;
    if (isStaleCharge(made)) {
      const settled = await settleCharge(services.lifecycle, made);
      if (settled?.status === 'QUEUED') services.dispatcher.notify();
      return settled;
    }
    await sleep(CHARGE_POLL_MS);
  }
}

/** The model by id or slug, if people may generate with it now. */
async function usableModel(services: Services, modelId: string): Promise<CatalogModel> {
  const model = await services.catalog.find(modelId);
  if (!model) throw new NotFoundError(`No model "${modelId}" in the catalog; the models query lists them.`);
  const unusable = (message: string) => new InvalidInputError(message, [{ field: 'modelId', message }]);
  if (model.retired) throw unusable(`${model.name} is retired; pick another model from the models query.`);
  if (!(await services.catalog.isInstalled(model))) {
    throw unusable(`${model.name} is in the catalog but its files are not installed on this server (an admin can fetch it with npm run models:fetch).`);
  }
  return model;
}

async function findByRequestKey(requestKey: string): Promise<GenerationDocument | undefined> {
  return (await GenerationModel.findOne({ requestKey }).lean<GenerationDocument>()) ?? undefined;
}

/** Generations a user may see: all but those still being charged. */
const SHOWN = { status: { $ne: 'CHARGING' } } as const;

/** The caller's generation; NOT_FOUND for a malformed id, a missing one and someone else's alike. */
export async function findOwnGeneration(userId: string, id: string): Promise<GenerationDocument> {
  const generation = OBJECT_ID.test(id) ? await GenerationModel.findOne({ _id: id, userId, ...SHOWN }).lean<GenerationDocument>() : null;
  if (!generation) throw new NotFoundError(`No generation "${id}" among yours.`);
  return generation;
}

export interface GenerationsPage {
  edges: { cursor: string; generation: GenerationDocument }[];
  hasNextPage: boolean;
}

/** The user's generations, newest first; `after` is an edge's cursor. */
export async function listGenerations(
  userId: string,
  page: { first: number; after?: string; status?: GenerationStatus },
): Promise<GenerationsPage> {
  if (!Number.isInteger(page.first) || page.first < 1 || page.first > MAX_GENERATIONS_PAGE) {
    throw new InvalidInputError(`first must be between 1 and ${MAX_GENERATIONS_PAGE}.`, [{ field: 'first', message: `between 1 and ${MAX_GENERATIONS_PAGE}` }]);
  }
  if (page.status !== undefined && !GENERATION_STATUSES.includes(page.status)) {
    throw new InvalidInputError(`Unknown status "${page.status}".`);
  }
  const filter: Record<string, unknown> = { userId, ...SHOWN };
  if (page.after !== undefined) filter._id = { $lt: decodeCursor(page.after) };
  if (page.status !== undefined) filter.status = page.status;
  const docs = await GenerationModel.find(filter)
    .sort({ _id: -1 })
    .limit(page.first + 1)
    .lean<GenerationDocument[]>();
  return {
    edges: docs.slice(0, page.first).map((generation) => ({ cursor: encodeCursor(generation._id), generation })),
    hasNextPage: docs.length > page.first,
  };
}

// Cursors are opaque to clients; inside they are the id of the edge's generation.
const encodeCursor = (id: Types.ObjectId) => Buffer.from(`generation:${id.toHexString()}`).toString('base64url');

function decodeCursor(cursor: string): Types.ObjectId {
  const match = /^generation:([0-9a-f]{24})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new InvalidInputError("That cursor is not one this API gave out; pass a page's endCursor as `after`.");
  return new Types.ObjectId(match[1]);
}

/** How many times cancel re-reads a job that changed under it; each change moves it toward its end. */
const CANCEL_ATTEMPTS = 5;

/**
 * Cancels the caller's generation. A QUEUED one ends at once, CANCELLED and refunded. A RUNNING
 * one is marked: the function's next callback is told to stop, and the job ends CANCELLED when it
 * does (or when its lease runs out, if the function is gone). A finished one is returned as it is.
 */
export async function cancelGeneration(services: Services, userId: string, id: string): Promise<GenerationDocument> {
  for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
    const generation = await findOwnGeneration(userId, id);
    if (FINAL_STATUSES.includes(generation.status)) return generation;
    if (generation.status === 'QUEUED') {
      const cancelled = await finishGeneration(
        services.lifecycle,
        generation._id,
        { status: 'CANCELLED', errorCode: 'CANCELLED', error: 'Cancelled before it started; your tokens were refunded.' },
        { statuses: ['QUEUED'], attempt: generation.attempt },
      );
      if (cancelled) return cancelled;
      continue;
    }
    if (generation.cancelRequested) return generation;
    const marked = await GenerationModel.findOneAndUpdate(
      { _id: generation._id, status: 'RUNNING', attempt: generation.attempt },
      { $set: { cancelRequested: true } },
      { returnDocument: 'after' },
    ).lean<GenerationDocument>();
    if (marked) {
      services.logger.info({ generationId: id }, 'cancel requested for a running generation');
      publishGeneration(services.pubSub, marked);
      return marked;
    }
  }
  return findOwnGeneration(userId, id);
}
