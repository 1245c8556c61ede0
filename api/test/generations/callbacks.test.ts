import { randomBytes } from 'node:crypto';
import mongoose, { Types } from 'mongoose';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signBody } from '@easel/schema';
import { GenerationModel, type GenerationDocument } from '../../src/generations/generation.js';
import { readImage, storeUpload } from '../../src/generations/images/image-store.js';
import { clearDatabase } from '../support/database.js';
import { chargedGeneration, expectTokensAccountedFor, ledgerOf, reload, type Holder } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';

// GPU_CONCURRENCY 0: the dispatcher leaves these hand-made jobs alone.
const testServer = useTestServer({ GPU_CONCURRENCY: '0', JOB_LEASE_SECONDS: '60' });
const ada: Holder = { userId: new Types.ObjectId().toHexString(), plan: 'FREE' };

beforeEach(clearDatabase);

const newSecret = () => randomBytes(32).toString('base64url');

/** A job the dispatcher has handed to the function: RUNNING, attempt 1, with its secret. */
async function runningJob(fields: Partial<GenerationDocument> = {}) {
  const jobSecret = newSecret();
  const job = await chargedGeneration(testServer().server.services.tokens, ada, {
    status: 'RUNNING',
    attempt: 1,
    jobSecret,
    leaseExpiresAt: new Date(Date.now() + 5_000),
    dispatchedAt: new Date(),
    ...fields,
  });
  return { ...job, jobSecret: fields.jobSecret ?? jobSecret };
}

type Job = Awaited<ReturnType<typeof runningJob>>;

function event(job: Job, sequence: number, fields: Record<string, unknown>) {
  return { jobId: String(job._id), attempt: job.attempt, sequence, at: Date.now(), ...fields };
}

async function post(job: Job | string, body: unknown, options: { secret?: string; signature?: string | null } = {}) {
  const id = typeof job === 'string' ? job : String(job._id);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const secret = options.secret ?? (typeof job === 'string' ? newSecret() : job.jobSecret);
  const signature = options.signature === undefined ? signBody(secret, text) : options.signature;
  const response = await fetch(`${testServer().url}/callbacks/generations/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { [SIGNATURE_HEADER]: signature }) },
    body: text,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const tinyPng = (seed: number) =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: { r: seed % 256, g: 40, b: 90 } } }).png().toBuffer();

/** A Buffer field as read back lean: the driver's Binary. */
const bytesOf = (value: unknown) => (Buffer.isBuffer(value) ? value : Buffer.from((value as { buffer: Uint8Array }).buffer));

const storedImageCount = (job: Job) => mongoose.connection.db!.collection('images.files').countDocuments({ 'metadata.generationId': String(job._id) });

describe('POST /callbacks/generations/:id', () => {
  it('records started and progress: the step, an ETA, the preview, and a longer lease', async () => {
    const job = await runningJob();
    expect(await post(job, event(job, 0, { type: 'started' }))).toEqual({ status: 200, body: { cancel: false } });
    const started = await reload(job._id);
    expect(started.startedAt).toBeInstanceOf(Date);
    expect(started.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const preview = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).webp().toBuffer();
    const reply = await post(job, event(job, 1, { type: 'progress', step: 1, totalSteps: 4, previewWebp: preview.toString('base64') }));
    expect(reply).toEqual({ status: 200, body: { cancel: false } });
    const progressed = await reload(job._id);
    expect(progressed).toMatchObject({ status: 'RUNNING', step: 1, totalSteps: 4, lastSequence: 1 });
    expect(bytesOf(progressed.preview)).toEqual(preview);
    // Three steps left at the pace of the first (over 20 ms since started).
    expect(progressed.etaSeconds).toBeGreaterThan(0);
    expect(progressed.etaSeconds).toBeLessThan(30);
  });

  it('answers a replayed or duplicate event as before and changes nothing', async () => {
    const job = await runningJob();
    const body = JSON.stringify(event(job, 0, { type: 'progress', step: 2, totalSteps: 4 }));
    const signature = signBody(job.jobSecret, body);
    expect((await post(job, body, { signature })).status).toBe(200);
    const once = await reload(job._id);

    expect(await post(job, body, { signature })).toEqual({ status: 200, body: { cancel: false } });
    // An older event, freshly signed, is just as late.
    expect((await post(job, event(job, 0, { type: 'progress', step: 1, totalSteps: 4 }))).status).toBe(200);
    expect(await reload(job._id)).toEqual(once);
  });

  it('refuses forged events (no signature, another secret, a changed body) and changes nothing', async () => {
    const job = await runningJob();
    const before = await reload(job._id);
    const body = JSON.stringify(event(job, 0, { type: 'failed', code: 'INTERNAL_ERROR', reason: 'forged' }));

    for (const signature of [null, 'nonsense', signBody(newSecret(), body), signBody(job.jobSecret, body.replace('forged', 'tampered'))]) {
      const reply = await post(job, body, { signature });
      expect(reply.status).toBe(401);
      expect(reply.body.code).toBe('BAD_SIGNATURE');
    }
    // A signature from more than five minutes ago cannot be replayed either.
    const old = signBody(job.jobSecret, body, Date.now() - 10 * 60_000);
    expect((await post(job, body, { signature: old })).status).toBe(401);

    expect(await reload(job._id)).toEqual(before);
    expect((await ledgerOf(job._id)).map((entry) => entry.kind)).toEqual(['DEBIT']);
  });

  it('tells a function working on an attempt the job has moved past to stop (409), changing nothing', async () => {
    const oldSecret = newSecret();
    const job = await runningJob({ attempt: 2 });
    const before = await reload(job._id);
    // The first attempt signs with its own secret, which the retry replaced.
    const late = await post(job, { ...event(job, 5, { type: 'progress', step: 3, totalSteps: 4 }), attempt: 1 }, { secret: oldSecret });
    expect(late).toMatchObject({ status: 409, body: { code: 'STALE_ATTEMPT' } });
    // Even signed with the current secret, an event must name the current attempt.
    const misnamed = await post(job, { ...event(job, 5, { type: 'progress', step: 3, totalSteps: 4 }), attempt: 1 });
    expect(misnamed.status).toBe(409);
    expect(await reload(job._id)).toEqual(before);

    // Waiting for its retry (QUEUED), the job takes no events at all.
    const waiting = await runningJob({ status: 'QUEUED', jobSecret: undefined, leaseExpiresAt: undefined });
    expect((await post(waiting, event(waiting, 0, { type: 'started' }), { secret: oldSecret })).status).toBe(409);
  });

  it('answers 400 to a signed body that is not an event of this job', async () => {
    const job = await runningJob();
    expect((await post(job, 'not json')).status).toBe(400);
    const wrongShape = await post(job, event(job, 0, { type: 'progress', step: 'two' }));
    expect(wrongShape).toMatchObject({ status: 400, body: { code: 'INVALID_EVENT' } });
    expect(wrongShape.body.message).toMatch(/step/);
    expect((await post(job, { ...event(job, 0, { type: 'started' }), jobId: new Types.ObjectId().toHexString() })).status).toBe(400);
    expect((await reload(job._id)).lastSequence).toBe(-1);
  });

  it('stores the PNGs of a completed job, ends it SUCCEEDED, and refuses what comes after (410)', async () => {
    const job = await runningJob({ settings: { batchSize: 2 } as GenerationDocument['settings'] });
    const pngs = [await tinyPng(1), await tinyPng(2)];
    const completed = event(job, 0, {
      type: 'completed',
      images: pngs.map((png, i) => ({ png: png.toString('base64'), seed: 1234 + i, width: 8, height: 8 })),
      timings: { loadMs: 5, inferenceMs: 40, totalMs: 50 },
    });
    expect(await post(job, completed)).toEqual({ status: 200, body: { cancel: false } });

    const ended = await reload(job._id);
    expect(ended).toMatchObject({ status: 'SUCCEEDED', refunded: false, timings: { loadMs: 5, inferenceMs: 40, totalMs: 50 } });
    expect(ended.timings?.queueMs).toBe(ended.dispatchedAt!.getTime() - ended.createdAt.getTime());
    expect(ended.jobSecret).toBeUndefined();
    expect(ended.images.map(({ seed, width, height }) => ({ seed, width, height }))).toEqual([
      { seed: 1234, width: 8, height: 8 },
      { seed: 1235, width: 8, height: 8 },
    ]);
    for (const [i, image] of ended.images.entries()) {
      const file = await readImage('images', String(image.fileId), ada.userId);
      expect(file?.bytes).toEqual(pngs[i]);
    }

    const after = await post(job, event(job, 1, { type: 'failed', code: 'INTERNAL_ERROR', reason: 'too late' }));
    expect(after).toMatchObject({ status: 410, body: { code: 'JOB_ENDED' } });
    expect((await reload(job._id)).status).toBe('SUCCEEDED');
    await expectTokensAccountedFor(testServer().server.services.tokens, ada);
  });

  it('keeps one set of images when the same completion arrives twice at once', async () => {
    const job = await runningJob();
    const body = JSON.stringify(
      event(job, 3, { type: 'completed', images: [{ png: (await tinyPng(3)).toString('base64'), seed: 1, width: 8, height: 8 }], timings: { loadMs: 0, inferenceMs: 1, totalMs: 1 } }),
    );
    const signature = signBody(job.jobSecret, body);
    const replies = await Promise.all(Array.from({ length: 4 }, () => post(job, body, { signature })));
    for (const reply of replies) expect([200, 410]).toContain(reply.status);
    expect((await reload(job._id)).images).toHaveLength(1);
    expect(await storedImageCount(job)).toBe(1);
  });

  it('fails a job on a failed event, with its reason, and refunds it once', async () => {
    const job = await runningJob();
    const reply = await post(job, event(job, 0, { type: 'failed', code: 'OUT_OF_MEMORY', reason: 'The GPU ran out of memory.' }));
    expect(reply.status).toBe(200);
    const ended = await reload(job._id);
    expect(ended).toMatchObject({ status: 'FAILED', errorCode: 'OUT_OF_MEMORY', refunded: true });
    expect(ended.error).toMatch(/^The GPU ran out of memory\. .*refunded/);
    expect((await ledgerOf(job._id)).map((entry) => entry.kind)).toEqual(['DEBIT', 'REFUND']);
    await expectTokensAccountedFor(testServer().server.services.tokens, ada);
  });

  it('says cancel once the user asked, and ends the job CANCELLED, refunded, when the function stops', async () => {
    const job = await runningJob();
    await GenerationModel.updateOne({ _id: job._id }, { $set: { cancelRequested: true } });
    expect(await post(job, event(job, 0, { type: 'progress', step: 1, totalSteps: 4 }))).toEqual({ status: 200, body: { cancel: true } });

    expect((await post(job, event(job, 1, { type: 'failed', code: 'CANCELLED', reason: 'the job was cancelled' }))).status).toBe(200);
    expect(await reload(job._id)).toMatchObject({ status: 'CANCELLED', refunded: true });
    await expectTokensAccountedFor(testServer().server.services.tokens, ada);
  });

  it('applies the next event of a running attempt without reading its job first: one conditional update', async () => {
    const job = await runningJob();
    expect((await post(job, event(job, 0, { type: 'started' }))).status).toBe(200);
    const calls: string[] = [];
    mongoose.set('debug', (collection: string, method: string, filter: { _id?: unknown }) => {
      if (collection === 'generations' && String(filter?._id) === String(job._id)) calls.push(method);
    });
    try {
      expect(await post(job, event(job, 1, { type: 'progress', step: 1, totalSteps: 4 }))).toEqual({ status: 200, body: { cancel: false } });
    } finally {
      mongoose.set('debug', false);
    }
    expect(calls).toEqual(['findOneAndUpdate']);
    expect(await reload(job._id)).toMatchObject({ step: 1, lastSequence: 1 });
  });

  it('judges by the stored job when the instance remembers it out of date: a retry, a cancel, a replay, an end', async () => {
    const job = await runningJob();
    expect((await post(job, event(job, 0, { type: 'started' }))).status).toBe(200);

    // Asked to cancel since: the next event is told.
    await GenerationModel.updateOne({ _id: job._id }, { $set: { cancelRequested: true } });
    expect(await post(job, event(job, 1, { type: 'progress', step: 1, totalSteps: 4 }))).toEqual({ status: 200, body: { cancel: true } });
    await GenerationModel.updateOne({ _id: job._id }, { $set: { cancelRequested: false } });

    // Retried since, with a new secret: the new attempt's events are taken, the old one's are not.
    const retry = { ...job, attempt: 2, jobSecret: newSecret() };
    await GenerationModel.updateOne({ _id: job._id }, { $set: { attempt: 2, jobSecret: retry.jobSecret, lastSequence: -1 } });
    expect((await post(job, event(job, 2, { type: 'progress', step: 2, totalSteps: 4 }))).status).toBe(409);
    expect(await post(retry, event(retry, 0, { type: 'started' }))).toEqual({ status: 200, body: { cancel: false } });
    expect(await reload(job._id)).toMatchObject({ attempt: 2, lastSequence: 0 });

    // A replay of the event just applied, while someone else asked to cancel: answered as stored.
    await GenerationModel.updateOne({ _id: job._id }, { $set: { cancelRequested: true } });
    expect(await post(retry, event(retry, 0, { type: 'started' }))).toEqual({ status: 200, body: { cancel: true } });

    // Ended elsewhere (the lease sweep, say): nothing more is applied.
    await GenerationModel.updateOne({ _id: job._id }, { $set: { status: 'FAILED' }, $unset: { jobSecret: 1 } });
    const before = await reload(job._id);
    expect(await post(retry, event(retry, 1, { type: 'progress', step: 1, totalSteps: 4 }))).toMatchObject({ status: 410, body: { code: 'JOB_ENDED' } });
    expect(await reload(job._id)).toEqual(before);
  });

  it('answers 404 for a generation that does not exist', async () => {
    expect((await post(new Types.ObjectId().toHexString(), { type: 'started' })).status).toBe(404);
    expect((await post('not-an-id', { type: 'started' })).status).toBe(404);
  });
});

describe('GET /callbacks/generations/:id/base-image', () => {
  const get = async (job: Job, signature?: string) =>
    fetch(`${testServer().url}/callbacks/generations/${String(job._id)}/base-image`, { headers: signature ? { [SIGNATURE_HEADER]: signature } : {} });

  it('serves the job its base image, signed like a callback, and no one else', async () => {
    const bytes = await sharp({ create: { width: 16, height: 16, channels: 3, background: 'blue' } }).png().toBuffer();
    const baseImageId = await storeUpload(ada.userId, bytes, { format: 'png', width: 16, height: 16 });
    const job = await runningJob({ baseImageId });

    const response = await get(job, signBody(job.jobSecret, ''));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);

    expect((await get(job)).status).toBe(401);
    expect((await get(job, signBody(newSecret(), ''))).status).toBe(401);
    await GenerationModel.updateOne({ _id: job._id }, { $set: { status: 'CANCELLED' } });
    expect((await get(job, signBody(job.jobSecret, ''))).status).toBe(410);
  });

  it('answers 404 when the job has no base image', async () => {
    const job = await runningJob();
    expect((await get(job, signBody(job.jobSecret, ''))).status).toBe(404);
  });
});
