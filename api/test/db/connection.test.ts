import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import mongoose, { Schema } from 'mongoose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { jongodbCommand, startJongodb } from '../../src/db/jongodb.js';
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


  it('dies with its owner, even when the owner is killed with no chance to clean up', async () => {
    // A stand-in owner process that starts jongodb the way startJongodb does, then gets SIGKILLed.
    const { command, args } = jongodbCommand();
    const owner = spawn(
      process.execPath,
      ['-e', "require('node:child_process').spawn(process.argv[1], JSON.parse(process.argv[2]), { stdio: ['pipe', 'inherit', 'inherit'] })", command, JSON.stringify(args)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const uri = await new Promise<string>((resolve) => {
      createInterface({ input: owner.stdout }).on('line', (line) => {
        if (line.startsWith('JONGODB_URI=')) resolve(line.slice('JONGODB_URI='.length));
      });
    });
    const probe = await mongoose.createConnection(uri, { autoCreate: false }).asPromise();
    expect(await probe.db!.admin().ping()).toMatchObject({ ok: 1 });
    await probe.close();

    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    await expect.poll(async () => {
      const attempt = mongoose.createConnection(uri, { serverSelectionTimeoutMS: 200 }).asPromise();
      return attempt.then(async (connection) => {
        await connection.close();
        return 'still running';
      }, () => 'gone');
    }, { timeout: 5_000 }).toBe('gone');
  });
});
