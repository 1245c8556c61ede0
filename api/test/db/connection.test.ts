import mongoose, { Schema } from 'mongoose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startJongodb } from '../../src/db/jongodb.js';
import { clearDatabase, testDatabaseKind, useTestDatabase } from '../support/database.js';

const Handle = mongoose.model('ConnectionTestHandle', new Schema({ name: { type: String, required: true, unique: true } }));

useTestDatabase();

describe('the database connection', () => {
  it('builds unique indexes explicitly, so a duplicate is rejected with error 11000', async () => {
    await clearDatabase();
    await Handle.create({ name: 'ada' });
    const duplicate = await Handle.create({ name: 'ada' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(duplicate).toMatchObject({ code: 11000 });
    expect(await Handle.countDocuments({ name: 'ada' })).toBe(1);
  });

  it('uses jongodb in tests unless MONGODB_URI names a server', () => {
    expect(testDatabaseKind()).toBe(process.env.MONGODB_URI ? 'external' : 'jongodb');
  });
});

describe('the jongodb server', () => {
  it('answers on the address it printed and is gone after stop()', async () => {
    const server = await startJongodb(pino({ level: 'silent' }));
    const client = await mongoose.createConnection(server.uri, { autoCreate: false }).asPromise();
    expect(await client.db!.admin().ping()).toMatchObject({ ok: 1 });
    await client.close();
    await server.stop();
    const afterStop = mongoose.createConnection(server.uri, { serverSelectionTimeoutMS: 500 }).asPromise();
    await expect(afterStop).rejects.toThrow();
  });

});
