import mongoose from 'mongoose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startDatabase } from '../../src/db/connection.js';

// No useTestDatabase() here: these tests own the global mongoose connection themselves.
describe('startDatabase', () => {
  it('runs jongodb when asked, warns that data lives in memory only, and stops it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const database = await startDatabase({ dataDir: '/nonexistent', logger, embedded: 'jongodb' });
    expect(database.kind).toBe('jongodb');
    expect(mongoose.connection.readyState).toBe(mongoose.ConnectionStates.connected);
    expect(mongoose.connection.name).toBe('easel');
    expect(lines.join('')).toMatch(/in-memory jongodb.*LOST/);

    await database.stop();
    expect(mongoose.connection.readyState).toBe(mongoose.ConnectionStates.disconnected);
    const afterStop = mongoose.createConnection(database.uri, { serverSelectionTimeoutMS: 500 }).asPromise();
    await expect(afterStop).rejects.toThrow();
  });

  it('connects to the given URI as an external database, under the given database name', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const server = await startDatabase({ dataDir: '/nonexistent', logger: pino({ level: 'silent' }), embedded: 'jongodb' });
    await mongoose.disconnect();
    const uri = server.uri.replace('mongodb://', 'mongodb://reader:s3cret@');
    try {
      const external = await startDatabase({ uri: server.uri, dataDir: '/nonexistent', logger, dbName: 'chosen' });
      expect(external.kind).toBe('external');
      expect(mongoose.connection.name).toBe('chosen');
      await external.stop();
      // The log names the host, never credentials.
      const safe = await startDatabase({ uri, dataDir: '/nonexistent', logger }).catch(() => undefined);
      await safe?.stop();
      expect(lines.join('')).not.toContain('s3cret');
    } finally {
      await server.stop();
    }
  });
});
