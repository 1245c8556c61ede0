import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/accounts/token-service.js';
import { GenerationModel } from '../../src/generations/generation.js';
import { finishGeneration, settleRefunds } from '../../src/generations/events/lifecycle.js';
import { GENERATION_TOPIC } from '../../src/generations/events/publisher.js';
import { createEaselPubSub } from '../../src/generations/events/in-process.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';
import { chargedGeneration, expectTokensAccountedFor, ledgerOf, reload, type Holder } from '../support/generation-fixtures.js';
import type { PublishedGeneration } from '../../src/generations/events/publisher.js';
import { recordWebhookEvent } from '../../src/webhooks/webhook-deliveries.js';

useTestDatabase();

const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
const pubSub = createEaselPubSub();
const services = { tokens, pubSub, logger: pino({ level: 'silent' }), recordDeliveries: (generation: PublishedGeneration) => recordWebhookEvent(generation, 'http://easel.test') };
const ada: Holder = { userId: 'user-ada', plan: 'FREE' };

beforeEach(clearDatabase);

/** Collects what subscribers of one generation receive. */
function listen(generationId: string) {
  const received: unknown[] = [];
  const iterator = pubSub.subscribe(GENERATION_TOPIC, generationId)[Symbol.asyncIterator]();
  const pump = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      received.push(next.value);
    }
  })();
  return { received, stop: async () => (await iterator.return?.(), await pump) };
}

describe('finishGeneration', () => {
  it('fails a running job, refunds it once, and tells subscribers', async () => {
    const job = await chargedGeneration(tokens, ada, { status: 'RUNNING', attempt: 1, jobSecret: 'x'.repeat(43), leaseExpiresAt: new Date() });
    const subscriber = listen(String(job._id));
    expect((await tokens.balance(ada)).balance).toBe(19);

    const ended = await finishGeneration(services, job._id, { status: 'FAILED', errorCode: 'OUT_OF_MEMORY', error: 'ran out of memory' }, {
      statuses: ['RUNNING'],
      attempt: 1,
    });

    expect(ended).toMatchObject({ status: 'FAILED', errorCode: 'OUT_OF_MEMORY', refunded: true });
    expect(ended?.finishedAt).toBeInstanceOf(Date);
    const stored = await reload(job._id);
    expect(stored.jobSecret).toBeUndefined();
    expect(stored.leaseExpiresAt).toBeUndefined();
    expect((await tokens.balance(ada)).balance).toBe(20);
    expect((await ledgerOf(job._id)).map((entry) => entry.kind)).toEqual(['DEBIT', 'REFUND']);
    await expect.poll(() => subscriber.received.length).toBeGreaterThan(0);
    expect(subscriber.received.at(-1)).toMatchObject({ status: 'FAILED', refunded: true });
    expect(subscriber.received.at(-1)).not.toHaveProperty('jobSecret');
    await subscriber.stop();
  });

  it('lets exactly one of many racing endings win, and refunds once', async () => {
    const job = await chargedGeneration(tokens, ada, { status: 'RUNNING', attempt: 1 });
    const outcomes = await Promise.all([
      ...Array.from({ length: 5 }, () =>
        finishGeneration(services, job._id, { status: 'CANCELLED', errorCode: 'CANCELLED' }, { statuses: ['QUEUED', 'RUNNING'] }),
      ),
      ...Array.from({ length: 5 }, () => finishGeneration(services, job._id, { status: 'FAILED', errorCode: 'LEASE_EXPIRED' }, { statuses: ['RUNNING'], attempt: 1 })),
    ]);
    const winners = outcomes.filter((outcome) => outcome !== null);
    expect(winners).toHaveLength(1);
    expect((await reload(job._id)).status).toBe(winners[0]!.status);
    expect((await ledgerOf(job._id)).filter((entry) => entry.kind === 'REFUND')).toHaveLength(1);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('keeps the charge of a job that succeeded', async () => {
    const job = await chargedGeneration(tokens, ada, { status: 'RUNNING', attempt: 1 });
    const ended = await finishGeneration(services, job._id, { status: 'SUCCEEDED', images: [], timings: { totalMs: 12 } }, { statuses: ['RUNNING'] });
    expect(ended).toMatchObject({ status: 'SUCCEEDED', refunded: false, timings: { totalMs: 12 } });
    expect((await tokens.balance(ada)).balance).toBe(19);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('changes nothing when the job is not as expected: another attempt, another status, a lease renewed since', async () => {
    const job = await chargedGeneration(tokens, ada, { status: 'RUNNING', attempt: 2, leaseExpiresAt: new Date(Date.now() + 60_000) });
    const failed = { status: 'FAILED' as const, errorCode: 'LEASE_EXPIRED' };
    expect(await finishGeneration(services, job._id, failed, { statuses: ['RUNNING'], attempt: 1 })).toBeNull();
    expect(await finishGeneration(services, job._id, failed, { statuses: ['QUEUED'] })).toBeNull();
    expect(await finishGeneration(services, job._id, failed, { statuses: ['RUNNING'], leaseExpiredBy: new Date() })).toBeNull();
    expect(await reload(job._id)).toMatchObject({ status: 'RUNNING', refunded: false });
    expect((await tokens.balance(ada)).balance).toBe(19);
  });
});

describe('settleRefunds', () => {
  it('refunds a job that ended without its refund (a crash between the two writes), and only once', async () => {
    const crashed = await chargedGeneration(tokens, ada, { status: 'RUNNING', attempt: 1 });
    // What a crash right after the final update leaves behind.
    await GenerationModel.updateOne({ _id: crashed._id }, { $set: { status: 'FAILED', finishedAt: new Date(Date.now() - 60_000) } });
    const fine = await chargedGeneration(tokens, ada, { status: 'SUCCEEDED' });
    expect((await tokens.balance(ada)).balance).toBe(18);

    expect(await settleRefunds(services)).toBe(1);
    expect(await settleRefunds(services)).toBe(0);
    expect((await reload(crashed._id)).refunded).toBe(true);
    expect((await reload(fine._id)).refunded).toBe(false);
    expect((await tokens.balance(ada)).balance).toBe(19);
    await expectTokensAccountedFor(tokens, ada);
  });
});
