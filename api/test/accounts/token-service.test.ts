import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { LedgerEntryModel } from '../../src/accounts/token-ledger.js';
import {
  ChargeVoidedError,
  InsufficientTokensError,
  type TokenBalance,
  type TokenHolder,
  TokenService,
} from '../../src/accounts/token-service.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';

useTestDatabase();

const allowances = { FREE: 20, PLUS: 200 };
const ada: TokenHolder = { userId: 'user-ada', plan: 'FREE' };

/** A clock the test moves by hand. */
function testClock(start: string) {
  let now = new Date(start);
  return {
    now: () => now,
    set: (at: string) => {
      now = new Date(at);
    },
  };
}

function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** The invariant everything else rests on: the entries, oldest first, add up to the balance. */
async function expectLedgerAddsUp(userId: string, balance: TokenBalance): Promise<void> {
  const entries = await LedgerEntryModel.find({ userId }).sort({ seq: 1 }).lean();
  let running = 0;
  entries.forEach((entry, index) => {
    expect(entry.seq).toBe(index + 1);
    running += entry.amount;
    expect(entry.balanceAfter).toBe(running);
    expect(entry.dailyAfter + entry.bonusAfter).toBe(running);
    expect(entry.dailyAfter).toBeGreaterThanOrEqual(0);
    expect(entry.bonusAfter).toBeGreaterThanOrEqual(0);
  });
  expect(running).toBe(balance.balance);
  const newest = entries.at(-1);
  expect({ daily: newest?.dailyAfter ?? 0, bonus: newest?.bonusAfter ?? 0 }).toEqual({
    daily: balance.daily,
    bonus: balance.bonus,
  });
}

beforeEach(clearDatabase);

describe('the daily allowance', () => {
  it('starts a new account with the plan allowance, resetting at the next UTC midnight', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    expect(await tokens.balance(ada)).toEqual({
      balance: 20,
      daily: 20,
      bonus: 0,
      dailyAllowance: 20,
      resetsAt: new Date('2025-03-02T00:00:00Z'),
    });
    const plus = await tokens.balance({ userId: 'user-bo', plan: 'PLUS' });
    expect(plus).toMatchObject({ balance: 200, daily: 200, dailyAllowance: 200 });
    const { entries } = await tokens.ledger(ada.userId, { first: 10 });
    expect(entries).toMatchObject([{ kind: 'DAILY_TOPUP', amount: 20, balanceAfter: 20 }]);
  });

  it('tops up at the first use of each UTC day, without accumulating', async () => {
    const clock = testClock('2025-03-01T23:59:59.999Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    await tokens.debit(ada, { generationId: 'g1', amount: 5, reason: 'image' });
    expect(await tokens.balance(ada)).toMatchObject({ balance: 15, daily: 15 });

    clock.set('2025-03-02T00:00:00.000Z');
    expect(await tokens.balance(ada)).toMatchObject({ balance: 20, daily: 20, resetsAt: new Date('2025-03-03T00:00:00Z') });
    // Asking again the same day writes nothing more.
    await tokens.balance(ada);

    // A day with the pool still full: no top-up entry, and still 20, not 40.
    clock.set('2025-03-03T12:00:00Z');
    const untouched = await tokens.balance(ada);
    expect(untouched).toMatchObject({ balance: 20, daily: 20 });

    const { entries } = await tokens.ledger(ada.userId, { first: 10 });
    expect(entries.map((entry) => [entry.kind, entry.amount])).toEqual([
      ['DAILY_TOPUP', 5],
      ['DEBIT', -5],
      ['DAILY_TOPUP', 20],
    ]);
    await expectLedgerAddsUp(ada.userId, untouched);
  });

  it('writes one top-up when several API instances see the new day at once', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const instances = Array.from({ length: 4 }, () => new TokenService({ allowances, clock: clock.now }));
    await instances[0].debit(ada, { generationId: 'g1', amount: 9, reason: 'image' });
    clock.set('2025-03-02T00:00:01Z');
    const balances = await Promise.all(Array.from({ length: 40 }, (_, i) => instances[i % 4].balance(ada)));
    for (const balance of balances) expect(balance).toMatchObject({ balance: 20, daily: 20 });
    expect(await LedgerEntryModel.countDocuments({ userId: ada.userId, kind: 'DAILY_TOPUP' })).toBe(2);
    await expectLedgerAddsUp(ada.userId, balances[0]);
  });

  it('lets unused daily tokens of a higher plan lapse at the reset', async () => {
    const clock = testClock('2025-03-01T08:00:00Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    await tokens.balance({ ...ada, plan: 'PLUS' });
    clock.set('2025-03-02T08:00:00Z');
    const downgraded = await tokens.balance(ada);
    expect(downgraded).toMatchObject({ balance: 20, daily: 20, dailyAllowance: 20 });
    await expectLedgerAddsUp(ada.userId, downgraded);
  });
});

describe('spending', () => {
  it('spends daily tokens first, then bonus tokens, and never goes below zero', async () => {
    const tokens = new TokenService({ allowances, clock: testClock('2025-03-01T10:00:00Z').now });
    expect(await tokens.grant(ada, { amount: 5, reason: 'welcome' })).toMatchObject({ balance: 25, daily: 20, bonus: 5 });
    expect(await tokens.debit(ada, { generationId: 'g1', amount: 18, reason: 'image' })).toMatchObject({ daily: 2, bonus: 5 });
    expect(await tokens.debit(ada, { generationId: 'g2', amount: 4, reason: 'image' })).toMatchObject({ daily: 0, bonus: 3 });

    const refused = await outcome(tokens.debit(ada, { generationId: 'g3', amount: 4, reason: 'image' }));
    expect(refused.ok).toBe(false);
    const error = (refused as { error: unknown }).error;
    expect(error).toBeInstanceOf(InsufficientTokensError);
    expect(error).toMatchObject({ needed: 4, balance: { balance: 3, bonus: 3 } });
    expect((error as Error).message).toMatch(/needs 4 tokens and you have 3/);

    const balance = await tokens.balance(ada);
    expect(balance).toMatchObject({ balance: 3 });
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it('grants bonus tokens that survive the daily reset', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    await tokens.grant(ada, { amount: 7, reason: 'contest prize' });
    await tokens.debit(ada, { generationId: 'g1', amount: 20, reason: 'batch' });
    clock.set('2025-03-09T10:00:00Z');
    const later = await tokens.balance(ada);
    expect(later).toMatchObject({ balance: 27, daily: 20, bonus: 7 });
    await expectLedgerAddsUp(ada.userId, later);
  });

  it('charges exactly 20 of 500 concurrent debits on a balance of 20', async () => {
    const tokens = new TokenService({ allowances, clock: testClock('2025-03-01T10:00:00Z').now });
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => outcome(tokens.debit(ada, { generationId: `g${i}`, amount: 1, reason: 'image' }))),
    );
    const charged = results.filter((result) => result.ok);
    const refused = results.filter((result) => !result.ok);
    expect(charged).toHaveLength(20);
    expect(refused).toHaveLength(480);
    for (const result of refused) expect((result as { error: unknown }).error).toBeInstanceOf(InsufficientTokensError);

    const balance = await tokens.balance(ada);
    expect(balance.balance).toBe(0);
    expect(await LedgerEntryModel.countDocuments({ userId: ada.userId, kind: 'DEBIT' })).toBe(20);
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it('stays exact when several API instances race for the same account', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    // Separate services share nothing in memory, like separate processes: only the database decides.
    const instances = Array.from({ length: 5 }, () => new TokenService({ allowances, clock: clock.now }));
    await instances[0].grant(ada, { amount: 13, reason: 'bonus' });
    const results = await Promise.all(
      instances.flatMap((tokens, n) =>
        Array.from({ length: 30 }, (_, i) => outcome(tokens.debit(ada, { generationId: `g${n}-${i}`, amount: 1, reason: 'image' }))),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(33);
    const balance = await instances[1].balance(ada);
    expect(balance).toMatchObject({ balance: 0, daily: 0, bonus: 0 });
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it('charges a generation once however often and wherever it is debited', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const instances = Array.from({ length: 3 }, () => new TokenService({ allowances, clock: clock.now }));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => instances[i % 3].debit(ada, { generationId: 'same', amount: 2, reason: 'image' })),
    );
    for (const result of results) expect(result.balance).toBe(18);
    expect(await LedgerEntryModel.countDocuments({ userId: ada.userId, kind: 'DEBIT' })).toBe(1);
    await expectLedgerAddsUp(ada.userId, await instances[0].balance(ada));
  });

  it('rejects amounts that are not whole positive numbers, and blank reasons', async () => {
    const tokens = new TokenService({ allowances });
    for (const amount of [0, -1, 1.5, Number.NaN]) {
      await expect(tokens.debit(ada, { generationId: 'g', amount, reason: 'image' })).rejects.toThrow(InvalidInputError);
      await expect(tokens.grant(ada, { amount, reason: 'gift' })).rejects.toThrow(InvalidInputError);
    }
    await expect(tokens.debit(ada, { generationId: ' ', amount: 1, reason: 'image' })).rejects.toThrow(/generation/);
    await expect(tokens.grant(ada, { amount: 1, reason: '' })).rejects.toThrow(/reason/);
    expect(await LedgerEntryModel.countDocuments()).toBe(0);
  });
});

describe('voiding a charge', () => {
  it('voids a charge that never came: nothing is charged, no later debit lands, nothing is refunded', async () => {
    const tokens = new TokenService({ allowances });
    expect(await tokens.voidCharge(ada, { generationId: 'g1', reason: 'dropped' })).toBe('voided');
    expect(await tokens.voidCharge(ada, { generationId: 'g1', reason: 'dropped again' })).toBe('voided');
    await expect(tokens.debit(ada, { generationId: 'g1', amount: 2, reason: 'late' })).rejects.toThrow(ChargeVoidedError);
    expect(await tokens.refund(ada, { generationId: 'g1', reason: 'failed' })).toBe(false);

    const balance = await tokens.balance(ada);
    expect(balance.balance).toBe(20);
    const { entries } = await tokens.ledger(ada.userId, { first: 10 });
    expect(entries.map((entry) => [entry.kind, entry.amount, entry.generationId])).toEqual([
      ['DEBIT', 0, 'g1'],
      ['DAILY_TOPUP', 20, undefined],
    ]);
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it('leaves a charge that came alone, and says so', async () => {
    const tokens = new TokenService({ allowances });
    await tokens.debit(ada, { generationId: 'g1', amount: 2, reason: 'image' });
    expect(await tokens.voidCharge(ada, { generationId: 'g1', reason: 'dropped' })).toBe('charged');
    expect((await tokens.balance(ada)).balance).toBe(18);
    expect(await tokens.refund(ada, { generationId: 'g1', reason: 'failed' })).toBe(true);
    expect((await tokens.balance(ada)).balance).toBe(20);
  });

  it('lets exactly one of a debit and a void racing for the same generation land, across instances', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const instances = [new TokenService({ allowances, clock: clock.now }), new TokenService({ allowances, clock: clock.now })];
    await instances[0].grant(ada, { amount: 100, reason: 'room for every debit' });
    const races = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const generationId = `g${i}`;
        const [debit, voided] = await Promise.all([
          outcome(instances[i % 2].debit(ada, { generationId, amount: 1, reason: 'image' })),
          instances[(i + 1) % 2].voidCharge(ada, { generationId, reason: 'dropped' }),
        ]);
        return { debit, voided };
      }),
    );
    let charged = 0;
    for (const { debit, voided } of races) {
      if (debit.ok) {
        expect(voided).toBe('charged');
        charged++;
      } else {
        expect(debit.error).toBeInstanceOf(ChargeVoidedError);
        expect(voided).toBe('voided');
      }
    }
    expect(await LedgerEntryModel.countDocuments({ userId: ada.userId, kind: 'DEBIT' })).toBe(30);
    const balance = await instances[0].balance(ada);
    expect(balance.balance).toBe(120 - charged);
    await expectLedgerAddsUp(ada.userId, balance);
  });
});

describe('refunds', () => {
  it('refunds a generation once, even when asked concurrently many times', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const instances = [new TokenService({ allowances, clock: clock.now }), new TokenService({ allowances, clock: clock.now })];
    await instances[0].grant(ada, { amount: 2, reason: 'gift' });
    await instances[0].debit(ada, { generationId: 'g1', amount: 21, reason: 'image' });
    expect(await instances[0].balance(ada)).toMatchObject({ daily: 0, bonus: 1 });

    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => instances[i % 2].refund(ada, { generationId: 'g1', reason: 'failed' })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    // Each pool gets back what it gave.
    const balance = await instances[1].balance(ada);
    expect(balance).toMatchObject({ balance: 22, daily: 20, bonus: 2 });
    expect(await instances[0].refund(ada, { generationId: 'g1', reason: 'again' })).toBe(false);
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it('refunds nothing for a generation that was never charged', async () => {
    const tokens = new TokenService({ allowances });
    expect(await tokens.refund(ada, { generationId: 'never-charged', reason: 'failed' })).toBe(false);
    expect(await LedgerEntryModel.countDocuments({ kind: 'REFUND' })).toBe(0);
  });

  it("returns yesterday's daily tokens as bonus tokens, since the daily pool has been refilled", async () => {
    const clock = testClock('2025-03-01T22:00:00Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    await tokens.debit(ada, { generationId: 'late-night', amount: 3, reason: 'image' });
    clock.set('2025-03-02T01:00:00Z');
    expect(await tokens.refund(ada, { generationId: 'late-night', reason: 'lease expired' })).toBe(true);
    const balance = await tokens.balance(ada);
    expect(balance).toMatchObject({ balance: 23, daily: 20, bonus: 3 });
    const { entries } = await tokens.ledger(ada.userId, { first: 1 });
    expect(entries[0]).toMatchObject({ kind: 'REFUND', amount: 3, generationId: 'late-night', reason: 'lease expired' });
    await expectLedgerAddsUp(ada.userId, balance);
  });

  it("refuses to touch another user's generation", async () => {
    const tokens = new TokenService({ allowances });
    await tokens.debit(ada, { generationId: 'ada-1', amount: 1, reason: 'image' });
    const eve: TokenHolder = { userId: 'user-eve', plan: 'FREE' };
    await expect(tokens.refund(eve, { generationId: 'ada-1', reason: 'mine?' })).rejects.toThrow(/another user/);
    await expect(tokens.debit(eve, { generationId: 'ada-1', amount: 1, reason: 'mine?' })).rejects.toThrow(/another user/);
  });
});

describe('the ledger', () => {
  it('pages newest first with an opaque cursor', async () => {
    const clock = testClock('2025-03-01T10:00:00Z');
    const tokens = new TokenService({ allowances, clock: clock.now });
    for (let i = 1; i <= 4; i++) {
      clock.set(`2025-03-01T10:0${i}:00Z`);
      await tokens.debit(ada, { generationId: `g${i}`, amount: 1, reason: `image ${i}` });
    }
    await tokens.balance({ userId: 'someone-else', plan: 'FREE' });

    const first = await tokens.ledger(ada.userId, { first: 3 });
    expect(first.entries.map((entry) => entry.reason)).toEqual(['image 4', 'image 3', 'image 2']);
    expect(first.entries[0]).toMatchObject({
      userId: ada.userId,
      kind: 'DEBIT',
      amount: -1,
      balanceAfter: 16,
      dailyAfter: 16,
      bonusAfter: 0,
      generationId: 'g4',
      createdAt: new Date('2025-03-01T10:04:00Z'),
    });
    expect(first.hasNextPage).toBe(true);
    expect(first.endCursor).toBe(first.entries[2].cursor);
    // Any entry's cursor continues right after it.
    const fromFirst = await tokens.ledger(ada.userId, { first: 1, after: first.entries[0].cursor });
    expect(fromFirst.entries.map((entry) => entry.reason)).toEqual(['image 3']);

    const second = await tokens.ledger(ada.userId, { first: 3, after: first.endCursor });
    expect(second.entries.map((entry) => entry.reason)).toEqual(['image 1', 'Daily tokens for 2025-03-01']);
    expect(second.hasNextPage).toBe(false);
    expect(second.entries[1]).not.toHaveProperty('generationId');
  });

  it('rejects a page size out of range and a cursor it did not give out', async () => {
    const tokens = new TokenService({ allowances });
    await expect(tokens.ledger(ada.userId, { first: 0 })).rejects.toThrow(InvalidInputError);
    await expect(tokens.ledger(ada.userId, { first: 101 })).rejects.toThrow(/between 1 and 100/);
    await expect(tokens.ledger(ada.userId, { first: 5, after: 'bm9wZQ' })).rejects.toThrow(/cursor/);
  });
});
