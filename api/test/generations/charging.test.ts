import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { InsufficientTokensError, TokenService } from '../../src/accounts/token-service.js';
import { CHARGE_TIMEOUT_MS, chargeGeneration, settleCharge, settleStaleCharges } from '../../src/generations/create/charging.js';
import { GenerationModel } from '../../src/generations/generation.js';
import { findOwnGeneration, listGenerations } from '../../src/generations/create/generation-service.js';
import { USER_GENERATIONS_TOPIC } from '../../src/generations/events/publisher.js';
import { createEaselPubSub } from '../../src/generations/events/in-process.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';
import { chargingGeneration, expectTokensAccountedFor, ledgerOf, reload, type Holder } from '../support/generation-fixtures.js';
import type { PublishedGeneration } from '../../src/generations/events/publisher.js';
import { recordWebhookEvent } from '../../src/webhooks/webhook-deliveries.js';

/*
 * The crash windows of generateImage's charge, left the way a crashed process leaves them: step 1
 * (stored CHARGING) done, or steps 1 and 2 (debited) done, and the request gone. Then the sweep,
 * or the creator coming back late (a stall, not a crash), does its part.
 */

useTestDatabase();

const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
const pubSub = createEaselPubSub();
const services = { tokens, pubSub, logger: pino({ level: 'silent' }), recordDeliveries: (generation: PublishedGeneration) => recordWebhookEvent(generation, 'http://easel.test') };
const ada: Holder = { userId: 'user-ada', plan: 'FREE' };

const STALE = CHARGE_TIMEOUT_MS + 1_000;
const reason = 'test generation';
const debit = (generation: { _id: unknown; tokensCharged: number }) =>
  tokens.debit(ada, { generationId: String(generation._id), amount: generation.tokensCharged, reason });
const balance = async () => (await tokens.balance(ada)).balance;

beforeEach(clearDatabase);

describe('a generation being charged', () => {
  it('is shown to nobody and left alone by the sweep while its request has time', async () => {
    const generation = await chargingGeneration(ada);
    await expect(findOwnGeneration(ada.userId, String(generation._id))).rejects.toThrow(/No generation/);
    expect((await listGenerations(ada.userId, { first: 10 })).edges).toEqual([]);
    expect(await settleStaleCharges(services)).toBe(0);
    expect((await reload(generation._id)).status).toBe('CHARGING');
  });

  it('becomes a QUEUED job, shown and published, once charged', async () => {
    const generation = await chargingGeneration(ada, { fields: { tokensCharged: 2 } });
    const subscription = pubSub.subscribe(USER_GENERATIONS_TOPIC, ada.userId)[Symbol.asyncIterator]();
    const published = subscription.next();
    const queued = await chargeGeneration(services, generation, reason);
    expect(queued).toMatchObject({ status: 'QUEUED', tokensCharged: 2 });
    expect(await published).toMatchObject({ value: { _id: generation._id, status: 'QUEUED' } });
    await subscription.return?.();
    expect((await findOwnGeneration(ada.userId, String(generation._id))).status).toBe('QUEUED');
    expect(await balance()).toBe(18);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('is deleted when the tokens are short, leaving nothing', async () => {
    const generation = await chargingGeneration(ada, { fields: { tokensCharged: 21 } });
    await expect(chargeGeneration(services, generation, reason)).rejects.toThrow(InsufficientTokensError);
    expect(await GenerationModel.exists({ _id: generation._id })).toBeNull();
    expect(await ledgerOf(generation._id)).toEqual([]);
    expect(await balance()).toBe(20);
  });
});

describe('a request that crashed while charging', () => {
  it('after storing, before debiting: the sweep drops the generation, charging nothing, and a late debit cannot land', async () => {
    const crashed = await chargingGeneration(ada, { ageMs: STALE });

    expect(await settleStaleCharges(services)).toBe(1);
    expect(await GenerationModel.exists({ _id: crashed._id })).toBeNull();
    expect(await balance()).toBe(20);
    expect((await ledgerOf(crashed._id)).map((entry) => [entry.kind, entry.amount])).toEqual([['DEBIT', 0]]);

    // The request had stalled, not crashed, and now goes on: its debit finds the charge voided.
    expect(await chargeGeneration(services, crashed, reason)).toBeUndefined();
    expect(await balance()).toBe(20);
    expect(await settleStaleCharges(services)).toBe(0);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('after debiting, before queueing: the sweep queues it, charged once, and the late creator gets the same job', async () => {
    const crashed = await chargingGeneration(ada, { ageMs: STALE });
    await debit(crashed);

    expect(await settleStaleCharges(services)).toBe(1);
    expect(await reload(crashed._id)).toMatchObject({ status: 'QUEUED', refunded: false });
    expect(await balance()).toBe(19);

    const late = await chargeGeneration(services, crashed, reason);
    expect(late).toMatchObject({ _id: crashed._id, status: 'QUEUED' });
    expect(await balance()).toBe(19);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('after debiting, found too late to start: FAILED and refunded, once', async () => {
    const crashed = await chargingGeneration(ada, { ageMs: 60 * 60_000 });
    await debit(crashed);

    const settled = await Promise.all([settleCharge(services, crashed), settleCharge(services, crashed), settleStaleCharges(services)]);
    expect(settled[0]).toMatchObject({ status: 'FAILED', errorCode: 'NOT_QUEUED' });
    expect(await reload(crashed._id)).toMatchObject({ status: 'FAILED', errorCode: 'NOT_QUEUED', refunded: true });
    expect(await balance()).toBe(20);
    expect((await ledgerOf(crashed._id)).map((entry) => entry.kind)).toEqual(['DEBIT', 'REFUND']);
    await expectTokensAccountedFor(tokens, ada);
  });

  it('charges every generation once or not at all when stalled creators and sweeps race', async () => {
    const stalled = await Promise.all(Array.from({ length: 12 }, () => chargingGeneration(ada, { ageMs: STALE })));
    // Half of the creators had debited before they stalled.
    for (const generation of stalled.slice(0, 6)) await debit(generation);

    const creators = stalled.map((generation) => chargeGeneration(services, generation, reason).catch((error: unknown) => error));
    const sweeps = [settleStaleCharges(services), settleStaleCharges(services), ...stalled.map((generation) => settleCharge(services, generation))];
    const [outcomes] = await Promise.all([Promise.all(creators), Promise.all(sweeps)]);

    const queued = await GenerationModel.find({ userId: ada.userId }).lean();
    expect(queued.every((generation) => generation.status === 'QUEUED')).toBe(true);
    // The charged ones all went on; each creator got its job, or (voided) nothing.
    expect(queued.length).toBeGreaterThanOrEqual(6);
    outcomes.forEach((outcome, i) => {
      const kept = queued.some((generation) => String(generation._id) === String(stalled[i]._id));
      if (kept) expect(outcome).toMatchObject({ status: 'QUEUED' });
      else expect(outcome).toBeUndefined();
    });
    expect(await balance()).toBe(20 - queued.length);
    await expectTokensAccountedFor(tokens, ada);
  });
});
