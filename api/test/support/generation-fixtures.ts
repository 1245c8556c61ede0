import type { QueryFilter } from 'mongoose';
import { Types } from 'mongoose';
import { expect } from 'vitest';
import type { Plan } from '../../src/accounts/accounts.js';
import { LedgerEntryModel } from '../../src/accounts/token-ledger.js';
import type { TokenService } from '../../src/accounts/token-service.js';
import { GenerationModel, type GenerationDocument, type StoredSettings } from '../../src/generations/generation.js';

export interface Holder {
  userId: string;
  plan: Plan;
}

export const TINY_SD15 = { id: 'tiny-sd15', name: 'Tiny SD 1.5 (demo)', family: 'SD15', path: 'tiny-sd15' } as const;

export const TINY_SETTINGS: StoredSettings = {
  width: 64,
  height: 64,
  steps: 4,
  cfgScale: 7,
  sampler: 'euler',
  schedule: 'normal',
  clipSkip: 1,
  seed: 1234,
  batchSize: 1,
  denoiseStrength: 0.75,
  rngSource: 'NV',
  subseed: 0,
  subseedStrength: 0,
  etaNoiseSeedDelta: 0,
};

/**
 * A generation as generateImage leaves it: charged through the real token service, then stored
 * QUEUED (or in whatever state `fields` says, for tests that start mid-life).
 */
export async function chargedGeneration(
  tokens: TokenService,
  holder: Holder,
  fields: Partial<GenerationDocument> = {},
): Promise<GenerationDocument> {
  const _id = new Types.ObjectId();
  const settings = { ...TINY_SETTINGS, ...fields.settings };
  await tokens.debit(holder, { generationId: String(_id), amount: settings.batchSize, reason: 'test generation' });
  return storeGeneration(holder, { _id, ...fields, settings });
}

/**
 * A generation as the first step of generateImage leaves it: stored CHARGING, nothing debited yet.
 * `ageMs` back-dates it: a request that crashed (or stalled) that long ago.
 */
export async function chargingGeneration(holder: Holder, options: { ageMs?: number; fields?: Partial<GenerationDocument> } = {}): Promise<GenerationDocument> {
  return storeGeneration(holder, { status: 'CHARGING', createdAt: new Date(Date.now() - (options.ageMs ?? 0)), ...options.fields });
}

async function storeGeneration(holder: Holder, fields: Partial<GenerationDocument>): Promise<GenerationDocument> {
  const settings = { ...TINY_SETTINGS, ...fields.settings };
  const created = await GenerationModel.create({
    userId: holder.userId,
    plan: holder.plan,
    model: TINY_SD15,
    prompt: 'a lighthouse at dusk',
    finalPrompt: 'a lighthouse at dusk',
    negativePrompt: '',
    finalNegativePrompt: '',
    enhancePrompt: false,
    tokensCharged: settings.batchSize,
    totalSteps: settings.steps,
    ...fields,
    settings,
  });
  return created.toObject();
}

/**
 * A job whose ending is complete: SUCCEEDED, or FAILED/CANCELLED with its refund recorded (the
 * refund is written just after the final status).
 */
export const SETTLED: QueryFilter<GenerationDocument> = { $or: [{ status: 'SUCCEEDED' }, { status: { $in: ['FAILED', 'CANCELLED'] }, refunded: true }] };

/** The status of a job once settled, else undefined: for expect.poll. */
export async function settledStatus(id: Types.ObjectId | string): Promise<string | undefined> {
  return (await GenerationModel.findOne({ _id: id, ...SETTLED }).lean<GenerationDocument>())?.status;
}

export async function reload(id: Types.ObjectId | string): Promise<GenerationDocument> {
  const doc = await GenerationModel.findById(id).lean<GenerationDocument>();
  if (!doc) throw new Error(`generation ${String(id)} is gone`);
  return doc;
}

/** The ledger entries of one generation: a charge, and at most one refund. */
export async function ledgerOf(generationId: Types.ObjectId | string) {
  return LedgerEntryModel.find({ generationId: String(generationId) }).sort({ seq: 1 }).lean();
}

/**
 * Every token charged is spent or refunded once: entries per generation, no charge without its
 * generation (a void, a DEBIT of 0, charges nothing), and the ledger adds up to the balance.
 */
export async function expectTokensAccountedFor(tokens: TokenService, holder: Holder): Promise<void> {
  const entries = await LedgerEntryModel.find({ userId: holder.userId }).sort({ seq: 1 }).lean();
  const sum = entries.reduce((total, entry) => total + entry.amount, 0);
  expect(sum).toBe((await tokens.balance(holder)).balance);
  const generations = await GenerationModel.find({ userId: holder.userId }).lean<GenerationDocument[]>();
  const stored = new Set(generations.map((generation) => String(generation._id)));
  for (const charge of entries.filter((entry) => entry.kind === 'DEBIT' && entry.amount !== 0)) {
    expect(stored.has(charge.generationId!), `the generation charged by ${charge.operationKey}`).toBe(true);
  }
  for (const generation of generations) {
    const own = entries.filter((entry) => entry.generationId === String(generation._id));
    const debits = own.filter((entry) => entry.kind === 'DEBIT');
    const refunds = own.filter((entry) => entry.kind === 'REFUND');
    expect(debits, `charges of ${String(generation._id)}`).toHaveLength(1);
    const owedRefund = generation.status === 'FAILED' || generation.status === 'CANCELLED';
    expect(refunds, `refunds of ${String(generation._id)} (${generation.status})`).toHaveLength(owedRefund ? 1 : 0);
    if (owedRefund) expect(generation.refunded).toBe(true);
  }
}
