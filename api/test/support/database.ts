import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type Database, initIndexes, startDatabase } from '../../src/db/connection.js';

let database: Database | undefined;

/**
 * Gives the calling test file a database: jongodb by default, or the server at MONGODB_URI with a
 * database of its own, dropped afterwards. Import the file's models before calling this, so their
 * indexes get built.
 */
export function useTestDatabase(): void {
  beforeAll(async () => {
    const uri = process.env.MONGODB_URI;
    database = await startDatabase({
      uri,
      dataDir: path.join(os.tmpdir(), 'easel-test-unused'),
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      embedded: 'jongodb',
      dbName: uri ? `easel_test_${randomBytes(6).toString('hex')}` : undefined,
    });
    await initIndexes();
  });
  afterAll(async () => {
    if (database?.kind === 'external') await mongoose.connection.dropDatabase();
    await database?.stop();
    database = undefined;
  });
}

/** Empties every collection of the registered models, keeping their indexes. */
export async function clearDatabase(): Promise<void> {
  for (const name of mongoose.modelNames()) {
    await mongoose.model(name).deleteMany({});
  }
}

export function testDatabaseKind(): Database['kind'] {
  if (!database) throw new Error('useTestDatabase() has not started a database yet');
  return database.kind;
}
