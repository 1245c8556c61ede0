import { randomUUID } from 'node:crypto';
import { model, Schema } from 'mongoose';
import { isDuplicateKeyError } from '../../errors.js';

interface LockDocument {
  _id: string;
  holder: string;
  expiresAt: Date;
}

const LockModel = model<LockDocument>(
  'Lock',
  new Schema<LockDocument>(
    { _id: { type: String, required: true }, holder: { type: String, required: true }, expiresAt: { type: Date, required: true } },
    { collection: 'locks', versionKey: false },
  ),
);

/**
 * A lock shared by every API instance on the database, held for a short critical section.
 *
 * Taking it is one upsert: "the lock document, if its time is up → mine until now + ttl". When
 * another holder's time is not up, the filter matches nothing, the upsert tries to insert a
 * second document with the same _id, and the unique _id refuses it (error 11000): busy. A holder
 * that dies keeps the lock only until its ttl runs out.
 */
export class DatabaseLock {
  private readonly holder = randomUUID();

  constructor(
    private readonly name: string,
    private readonly ttlMs: number,
  ) {}

  /** True when this holder now has the lock; false when someone else does. */
  async acquire(): Promise<boolean> {
    const now = Date.now();
    try {
      await LockModel.updateOne(
        { _id: this.name, expiresAt: { $lte: new Date(now) } },
        { $set: { holder: this.holder, expiresAt: new Date(now + this.ttlMs) } },
        { upsert: true },
      );
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async release(): Promise<void> {
    await LockModel.updateOne({ _id: this.name, holder: this.holder }, { $set: { expiresAt: new Date(0) } });
  }
}
