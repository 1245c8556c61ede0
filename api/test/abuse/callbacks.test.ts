import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Types } from 'mongoose';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPE_HEADER, SIGNATURE_HEADER, signBody } from '@easel/schema';
import { maxEventBytes } from '../../src/generations/events/event-size.js';
import { chargedGeneration, reload, TINY_SETTINGS, type Holder } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';

// Defect 5 of issue 9: the callback URL read 64 MB before checking anything.
const server = useTestServer({ GPU_CONCURRENCY: '0', JOB_LEASE_SECONDS: '60' });
const holder: Holder = { userId: new Types.ObjectId().toHexString(), plan: 'FREE' };

/** 60 MB, as in the issue: far more than any event of a 64×64 job needs. */
const DECLARED_BYTES = 60 * 1024 * 1024;
const FIRST_CHUNK = Buffer.alloc(64 * 1024, 0x20);

/**
 * Starts a POST whose body is announced (Content-Length, or chunked when `declared` is
 * undefined) and sends only `chunks` of it, then waits for an answer. The server refuses before
 * reading the body when the answer comes while the rest of the body has not been sent.
 */
function postPartly(path: string, headers: Record<string, string>, declared: number | undefined, chunks = 1) {
  return new Promise<{ status: number; body: { code: string }; closes: boolean }>((resolve, reject) => {
    const url = new URL(path, server().url);
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers, ...(declared ? { 'content-length': String(declared) } : {}) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as { code: string }, closes: res.headers.connection === 'close' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server closed the connection after answering, with our body unsent: expected.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    for (let i = 0; i < chunks; i++) req.write(FIRST_CHUNK);
    // Never ended: a server that waits for the whole body never answers, and the test times out.
  });
}

async function runningJob() {
  const jobSecret = randomBytes(32).toString('base64url');
  const job = await chargedGeneration(server().server.services.tokens, holder, {
    status: 'RUNNING',
    attempt: 1,
    jobSecret,
    leaseExpiresAt: new Date(Date.now() + 60_000),
    dispatchedAt: new Date(),
  });
  return { ...job, jobSecret };
}

describe('defect 5: callbacks are checked before they are read', () => {
  it('refuses an unknown generation, a missing or malformed signature and an oversize event before reading the body', async () => {
    const unknown = await postPartly(`/callbacks/generations/${new Types.ObjectId().toHexString()}`, { [SIGNATURE_HEADER]: signBody('x', '') }, DECLARED_BYTES);
    expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ code: 'NOT_FOUND' }), closes: true });

    const job = await runningJob();
    const path = `/callbacks/generations/${String(job._id)}`;
    for (const signature of [undefined, 't=oops', `t=${Math.floor(Date.now() / 1000) - 3600},v1=${'0'.repeat(64)}`]) {
      const answer = await postPartly(path, signature === undefined ? {} : { [SIGNATURE_HEADER]: signature }, DECLARED_BYTES);
      expect(answer, String(signature)).toEqual({ status: 401, body: expect.objectContaining({ code: 'BAD_SIGNATURE' }), closes: true });
    }

    // A well-formed signature (it cannot be checked without the body) and a size no event of this job can have.
    const fresh = { [SIGNATURE_HEADER]: signBody(job.jobSecret, 'whatever') };
    expect(await postPartly(path, { ...fresh, [EVENT_TYPE_HEADER]: 'completed' }, DECLARED_BYTES)).toEqual({ status: 413, body: expect.objectContaining({ code: 'EVENT_TOO_LARGE' }), closes: true });
    // Chunked, with no size announced: cut off as soon as it passes the progress event's bound.
    const progressLimit = maxEventBytes('progress', TINY_SETTINGS);
    const chunks = Math.ceil(progressLimit / FIRST_CHUNK.length) + 1;
    expect(await postPartly(path, { ...fresh, [EVENT_TYPE_HEADER]: 'progress' }, undefined, chunks)).toMatchObject({ status: 413, body: { code: 'EVENT_TOO_LARGE' } });
    expect((await reload(job._id)).lastSequence).toBe(-1);
  });

  it('bounds each event type by what it can carry: progress small, completed by the image count and size', () => {
    const small = { width: 512, height: 512, batchSize: 1 };
    const large = { width: 1024, height: 1024, batchSize: 4 };
    expect(maxEventBytes('started', large)).toBe(64 * 1024);
    expect(maxEventBytes('progress', small)).toBeLessThan(256 * 1024);
    // Four incompressible 1024² RGB PNGs in base64: at least 4 × 3 MiB × 4/3.
    expect(maxEventBytes('completed', large)).toBeGreaterThan(4 * 3 * 1024 * 1024 * (4 / 3));
    expect(maxEventBytes('completed', large)).toBeGreaterThan(4 * maxEventBytes('completed', small));
  });
});
