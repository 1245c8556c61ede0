import { InvalidInputError, isDuplicateKeyError } from '../errors.js';
import type { Plan } from './accounts.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { type LedgerEntryDocument, LedgerEntryModel, type LedgerKind } from './token-ledger.js';
import { nextUtcMidnight, utcDay } from './utc-day.js';

/*
 * How the tokens stay right under any concurrency and any crash
 *
 * A user's account is their ledger: every change is one inserted entry carrying the balance after
 * it, and the newest entry is the balance. Entries are numbered per user (seq 1, 2, 3, ...) and a
 * unique index on (userId, seq) makes each insert a compare-and-swap: a writer reads entry n,
 * computes entry n + 1 from it, and inserts; if another writer got there first, the insert fails
 * with a duplicate key and the loser reads again. So:
 * - the ledger sums to the balance by construction (each entry is the previous one plus its amount);
 * - the balance never goes below zero (every entry is checked against the state it extends);
 * - a crash cannot split a change in two, because each change is a single write;
 * - a unique `operationKey` ('DEBIT:<generation>', 'REFUND:<generation>') makes a generation's
 *   charge and refund happen at most once, whatever races or retries;
 * - a generation's charge can be voided (a DEBIT of 0 tokens under its key), and then no debit of
 *   it can land later, however long the process that meant to charge it stalled (see voidCharge).
 *
 * Why not a wallet document updated with $inc, plus transactions to keep the ledger in step? The
 * embedded fallback is a standalone mongod, which has no transactions, and jongodb accepts
 * transactions but does not detect write conflicts: 50 concurrent read-modify-write transactions
 * on one document ended with the counter at 1 and no error (measured with jongodb 0.1.6). Without
 * transactions a wallet plus a ledger are two writes, and a crash between them breaks the sum.
 */

export interface TokenHolder {
  userId: string;
  plan: Plan;
}

export interface TokenBalance {
  /** daily + bonus: what the user can spend now. */
  balance: number;
  daily: number;
  bonus: number;
  dailyAllowance: number;
  /** When the daily part next tops up (the next UTC midnight). */
  resetsAt: Date;
}

export interface LedgerEntry {
  id: string;
  /** Pass as `after` to read the entries older than this one. */
  cursor: string;
  userId: string;
  kind: LedgerKind;
  amount: number;
  balanceAfter: number;
  dailyAfter: number;
  bonusAfter: number;
  reason: string;
  generationId?: string;
  createdAt: Date;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  endCursor?: string;
  hasNextPage: boolean;
}

export class InsufficientTokensError extends Error {
  override name = 'InsufficientTokensError';

  constructor(
    readonly balance: TokenBalance,
    readonly needed: number,
  ) {
    super(
      `This needs ${needed} token${needed === 1 ? '' : 's'} and you have ${balance.balance}. ` +
        `Your daily tokens top back up to ${balance.dailyAllowance} at ${balance.resetsAt.toISOString()}.`,
    );
  }
}

/** The generation's charge was voided (see TokenService.voidCharge): it will never be charged. */
export class ChargeVoidedError extends Error {
  override name = 'ChargeVoidedError';

  constructor(readonly generationId: string) {
    super(`Generation ${generationId} can no longer be charged: it was given up while it waited for its charge, and nothing was charged.`);
  }
}

export const MAX_LEDGER_PAGE = 100;

/** Each lost race means another writer made progress, so this only trips on a bug. */
const MAX_ATTEMPTS = 1_000;

/** The account as of its newest ledger entry. */
interface AccountState {
  seq: number;
  daily: number;
  bonus: number;
  /** The UTC day the daily pool belongs to; '' before the first top-up. */
  day: string;
}

const NEW_ACCOUNT: AccountState = { seq: 0, daily: 0, bonus: 0, day: '' };

interface Change {
  kind: LedgerKind;
  dailyChange: number;
  bonusChange: number;
  reason: string;
  generationId?: string;
  operationKey?: string;
}

const debitKey = (generationId: string) => `DEBIT:${generationId}`;
const refundKey = (generationId: string) => `REFUND:${generationId}`;

/** A real charge is 1 token or more (see debit), so a DEBIT of 0 can only be a void. */
const isVoid = (debit: LedgerEntryDocument) => debit.amount === 0;

export class TokenService {
  private readonly allowances: Record<Plan, number>;
  private readonly clock: () => Date;
  /**
   * Correctness never rests on this: the unique indexes decide every race, across API instances
   * too. It only keeps one process's concurrent calls for the same user from racing each other,
   * where each lost race costs a read and a rejected insert.
   */
  private readonly perUser = new KeyedSerializer();

  constructor(options: { allowances: Record<Plan, number>; clock?: () => Date }) {
    for (const [plan, allowance] of Object.entries(options.allowances)) {
      if (!Number.isSafeInteger(allowance) || allowance < 0) {
        throw new InvalidInputError(`The daily allowance of ${plan} must be a whole number of tokens, 0 or more.`);
      }
    }
    this.allowances = options.allowances;
    this.clock = options.clock ?? (() => new Date());
  }

  /** The holder's tokens, after today's top-up. */
  async balance(holder: TokenHolder): Promise<TokenBalance> {
    return this.perUser.run(holder.userId, async () => this.view(holder, await this.today(holder)));
  }

  /**
   * Charges a generation, spending daily tokens first. Charging a generation again charges nothing
   * and returns the balance. Throws InsufficientTokensError when the holder cannot pay, and
   * ChargeVoidedError when the generation's charge was voided.
   */
  async debit(holder: TokenHolder, charge: { generationId: string; amount: number; reason: string }): Promise<TokenBalance> {
    requireTokens(charge.amount, 'A charge');
    const generationId = requireText(charge.generationId, 'A charge needs the generation it pays for.');
    const reason = requireText(charge.reason, 'A charge needs a reason.');
    return this.perUser.run(holder.userId, () =>
      this.retryRaces(async () => {
        const charged = await this.findOperation(holder, debitKey(generationId));
        if (charged && isVoid(charged)) throw new ChargeVoidedError(generationId);
        if (charged) return this.view(holder, await this.today(holder));
        const state = await this.today(holder);
        if (state.daily + state.bonus < charge.amount) {
          throw new InsufficientTokensError(this.view(holder, state), charge.amount);
        }
        const fromDaily = Math.min(state.daily, charge.amount);
        const after = await this.append(holder, state, {
          kind: 'DEBIT',
          // Subtractions, not negations: -0 would be stored and shown as "-0".
          dailyChange: 0 - fromDaily,
          bonusChange: fromDaily - charge.amount,
          reason,
          generationId,
          operationKey: debitKey(generationId),
        });
        return after && this.view(holder, after);
      }),
    );
  }

  /**
   * Settles a charge whose debit may still be on its way (its process crashed or stalled): returns
   * 'charged' when the generation was charged; otherwise records a DEBIT of 0 tokens under the
   * generation's key, after which no debit of it can land (the key is unique), and returns
   * 'voided'. Either answer is final.
   */
  async voidCharge(holder: TokenHolder, charge: { generationId: string; reason: string }): Promise<'charged' | 'voided'> {
    const generationId = requireText(charge.generationId, 'A void needs the generation it is for.');
    const reason = requireText(charge.reason, 'A void needs a reason.');
    return this.perUser.run(holder.userId, () =>
      this.retryRaces(async () => {
        const charged = await this.findOperation(holder, debitKey(generationId));
        if (charged) return isVoid(charged) ? 'voided' : 'charged';
        const state = await this.today(holder);
        const after = await this.append(holder, state, {
          kind: 'DEBIT',
          dailyChange: 0,
          bonusChange: 0,
          reason,
          generationId,
          operationKey: debitKey(generationId),
        });
        return after && 'voided';
      }),
    );
  }

  /**
   * Gives back exactly what a generation was charged, at most once. Returns false when that
   * generation was never charged (or its charge was voided) or has been refunded already.
   *
   * Daily tokens charged on an earlier UTC day come back as bonus tokens: the daily pool has been
   * topped up since, so returning them there would be lost at the next top-up (or exceed the
   * allowance), yet the user paid for them and keeps them.
   */
  async refund(holder: TokenHolder, refund: { generationId: string; reason: string }): Promise<boolean> {
    const generationId = requireText(refund.generationId, 'A refund needs the generation it is for.');
    const reason = requireText(refund.reason, 'A refund needs a reason.');
    return this.perUser.run(holder.userId, async () => {
      const debit = await this.findOperation(holder, debitKey(generationId));
      if (!debit || isVoid(debit)) return false;
      return this.retryRaces(async () => {
        if (await this.findOperation(holder, refundKey(generationId))) return false;
        const state = await this.today(holder);
        const sameDailyPeriod = debit.day === state.day;
        const after = await this.append(holder, state, {
          kind: 'REFUND',
          dailyChange: sameDailyPeriod ? 0 - debit.dailyChange : 0,
          bonusChange: sameDailyPeriod ? 0 - debit.bonusChange : 0 - debit.amount,
          reason,
          generationId,
          operationKey: refundKey(generationId),
        });
        return after && true;
      });
    });
  }

  /** Adds bonus tokens, which never expire. */
  async grant(holder: TokenHolder, grant: { amount: number; reason: string }): Promise<TokenBalance> {
    requireTokens(grant.amount, 'A grant');
    const reason = requireText(grant.reason, 'A grant needs a reason.');
    return this.perUser.run(holder.userId, () =>
      this.retryRaces(async () => {
        const state = await this.today(holder);
        const after = await this.append(holder, state, { kind: 'GRANT', dailyChange: 0, bonusChange: grant.amount, reason });
        return after && this.view(holder, after);
      }),
    );
  }

  /** The user's ledger, newest first. `after` is a page's `endCursor`. */
  async ledger(userId: string, page: { first: number; after?: string }): Promise<LedgerPage> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > MAX_LEDGER_PAGE) {
      throw new InvalidInputError(`first must be between 1 and ${MAX_LEDGER_PAGE}.`);
    }
    const before = page.after === undefined ? undefined : decodeCursor(page.after);
    const docs = await LedgerEntryModel.find({ userId, ...(before === undefined ? {} : { seq: { $lt: before } }) })
      .sort({ seq: -1 })
      .limit(page.first + 1)
      .lean<LedgerEntryDocument[]>();
    const entries = docs.slice(0, page.first);
    return {
      entries: entries.map(toLedgerEntry),
      endCursor: entries.length ? encodeCursor(entries[entries.length - 1].seq) : undefined,
      hasNextPage: docs.length > page.first,
    };
  }

  /**
   * The holder's account on today's UTC day: when the newest entry belongs to an earlier day, the
   * daily pool is reset to the plan's allowance first (unused daily tokens do not carry over).
   */
  private async today(holder: TokenHolder): Promise<AccountState> {
    const today = utcDay(this.clock());
    return this.retryRaces(async () => {
      const state = await this.current(holder.userId);
      if (state.day >= today) return state;
      const allowance = this.allowances[holder.plan];
      // Already full: nothing to write; the next entry carries the new day.
      if (state.daily === allowance) return { ...state, day: today };
      return this.append(holder, { ...state, day: today }, {
        kind: 'DAILY_TOPUP',
        dailyChange: allowance - state.daily,
        bonusChange: 0,
        reason: `Daily tokens for ${today}`,
      });
    });
  }

  private async current(userId: string): Promise<AccountState> {
    const newest = await LedgerEntryModel.findOne({ userId }).sort({ seq: -1 }).lean<LedgerEntryDocument>();
    return newest ? { seq: newest.seq, daily: newest.dailyAfter, bonus: newest.bonusAfter, day: newest.day } : NEW_ACCOUNT;
  }

  /** Writes the entry after `state`; undefined when another writer wrote one first. */
  private async append(holder: TokenHolder, state: AccountState, change: Change): Promise<AccountState | undefined> {
    const after: AccountState = {
      seq: state.seq + 1,
      daily: state.daily + change.dailyChange,
      bonus: state.bonus + change.bonusChange,
      day: state.day,
    };
    try {
      await LedgerEntryModel.create({
        userId: holder.userId,
        seq: after.seq,
        kind: change.kind,
        amount: change.dailyChange + change.bonusChange,
        dailyChange: change.dailyChange,
        bonusChange: change.bonusChange,
        balanceAfter: after.daily + after.bonus,
        dailyAfter: after.daily,
        bonusAfter: after.bonus,
        day: after.day,
        reason: change.reason,
        generationId: change.generationId,
        operationKey: change.operationKey,
        createdAt: this.clock(),
      });
      return after;
    } catch (error) {
      if (isDuplicateKeyError(error)) return undefined;
      throw error;
    }
  }

  /** Runs `attempt` until it returns something other than undefined (undefined: it lost a race). */
  private async retryRaces<T>(attempt: () => Promise<T | undefined>): Promise<T> {
    for (let tries = 0; tries < MAX_ATTEMPTS; tries++) {
      const result = await attempt();
      if (result !== undefined) return result;
    }
    throw new Error(`Token ledger write lost ${MAX_ATTEMPTS} races in a row; giving up.`);
  }

  private async findOperation(holder: TokenHolder, operationKey: string): Promise<LedgerEntryDocument | undefined> {
    const entry = await LedgerEntryModel.findOne({ operationKey }).lean<LedgerEntryDocument>();
    if (entry && entry.userId !== holder.userId) {
      throw new InvalidInputError(`${operationKey} belongs to another user.`);
    }
    return entry ?? undefined;
  }

  private view(holder: TokenHolder, state: AccountState): TokenBalance {
    return {
      balance: state.daily + state.bonus,
      daily: state.daily,
      bonus: state.bonus,
      dailyAllowance: this.allowances[holder.plan],
      resetsAt: nextUtcMidnight(this.clock()),
    };
  }
}

function requireTokens(amount: number, what: string): void {
  if (!Number.isSafeInteger(amount) || amount < 1) {
    throw new InvalidInputError(`${what} must be a whole number of tokens, 1 or more (got ${amount}).`);
  }
}

function requireText(value: string, message: string): string {
  const trimmed = value?.trim();
  if (!trimmed) throw new InvalidInputError(message);
  return trimmed;
}

// Cursors are opaque to clients; inside they are the seq of the page's last entry.
function encodeCursor(seq: number): string {
  return Buffer.from(`ledger:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^ledger:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  const seq = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seq)) throw new InvalidInputError('That ledger cursor is not one this API gave out.');
  return seq;
}

function toLedgerEntry(doc: LedgerEntryDocument): LedgerEntry {
  return {
    id: doc._id.toHexString(),
    cursor: encodeCursor(doc.seq),
    userId: doc.userId,
    kind: doc.kind,
    amount: doc.amount,
    balanceAfter: doc.balanceAfter,
    dailyAfter: doc.dailyAfter,
    bonusAfter: doc.bonusAfter,
    reason: doc.reason,
    ...(doc.generationId === undefined ? {} : { generationId: doc.generationId }),
    createdAt: doc.createdAt,
  };
}
