import { model, Schema, type Types } from 'mongoose';

export const LEDGER_KINDS = ['DAILY_TOPUP', 'GRANT', 'DEBIT', 'REFUND'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * One change to a user's tokens. The user's newest entry (highest `seq`) IS their account: its
 * `dailyAfter`/`bonusAfter` are the balance. See token-service.ts for why there is no separate
 * wallet document.
 */
export interface LedgerEntryDocument {
  _id: Types.ObjectId;
  userId: string;
  /** 1, 2, 3, ... per user, with no gaps: entry n is computed from entry n - 1. */
  seq: number;
  kind: LedgerKind;
  /** Signed: dailyChange + bonusChange. */
  amount: number;
  dailyChange: number;
  bonusChange: number;
  balanceAfter: number;
  dailyAfter: number;
  bonusAfter: number;
  /** The UTC day ('YYYY-MM-DD') the daily pool belongs to after this entry. */
  day: string;
  reason: string;
  generationId?: string;
  /** 'DEBIT:<generationId>' or 'REFUND:<generationId>': what makes charges and refunds once-only. */
  operationKey?: string;
  createdAt: Date;
}

const ledgerEntrySchema = new Schema<LedgerEntryDocument>(
  {
    userId: { type: String, required: true },
    seq: { type: Number, required: true, min: 1 },
    kind: { type: String, enum: LEDGER_KINDS, required: true },
    amount: { type: Number, required: true },
    dailyChange: { type: Number, required: true },
    bonusChange: { type: Number, required: true },
    balanceAfter: { type: Number, required: true, min: 0 },
    dailyAfter: { type: Number, required: true, min: 0 },
    bonusAfter: { type: Number, required: true, min: 0 },
    day: { type: String, required: true },
    reason: { type: String, required: true },
    generationId: { type: String },
    operationKey: { type: String },
    createdAt: { type: Date, required: true },
  },
  { collection: 'token_ledger', versionKey: false },
);

// Two writers that both read entry n race to insert n + 1; this index lets exactly one win.
ledgerEntrySchema.index({ userId: 1, seq: -1 }, { unique: true });
// Sparse: only debits and refunds carry a key.
ledgerEntrySchema.index({ operationKey: 1 }, { unique: true, sparse: true });

export const LedgerEntryModel = model<LedgerEntryDocument>('TokenLedgerEntry', ledgerEntrySchema);
