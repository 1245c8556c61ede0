import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishDatabaseAddress } from '../../src/admin-address.js';
import { connectCliDatabase } from '../../src/db/cli-database.js';
import { type EmbeddedServer, startJongodb } from '../../src/db/jongodb.js';

const logger = pino({ level: 'silent' });
let server: EmbeddedServer;
let root: string;

beforeAll(async () => {
  server = await startJongodb(logger);
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-cli-database-'));
});
afterAll(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

describe('connectCliDatabase', () => {
  it('connects to MONGODB_URI when it is set, before any address a server left', async () => {
    const dataDir = path.join(root, 'with-uri');
    await publishDatabaseAddress(dataDir, { uri: 'mongodb://127.0.0.1:1/', dbName: 'not_this_one' });
    const uri = new URL(server.uri);
    uri.pathname = '/easel_cli_uri';
    const database = await connectCliDatabase({ mongodbUri: uri.href, dataDir }, logger);
    try {
      expect(database?.kind).toBe('external');
      expect(mongoose.connection.name).toBe('easel_cli_uri');
    } finally {
      await database?.stop();
    }
  });

  it('without MONGODB_URI, connects to the embedded database a running server advertises in DATA_DIR', async () => {
    const dataDir = path.join(root, 'advertised');
    await publishDatabaseAddress(dataDir, { uri: server.uri, dbName: 'easel_cli_advertised' });
    const database = await connectCliDatabase({ mongodbUri: undefined, dataDir }, logger);
    try {
      expect(database?.uri).toBe(server.uri);
      expect(mongoose.connection.name).toBe('easel_cli_advertised');
    } finally {
      await database?.stop();
    }
  });

  it('gives undefined, and starts no database of its own, when there is neither', async () => {
    const database = await connectCliDatabase({ mongodbUri: undefined, dataDir: path.join(root, 'nothing-here') }, logger);
    expect(database).toBeUndefined();
    expect(mongoose.connection.readyState).toBe(mongoose.ConnectionStates.disconnected);
  });

  it('takes an address file without a uri for no address (an empty one would start an embedded database)', async () => {
    const dataDir = path.join(root, 'no-uri');
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, 'embedded-database.json'), '{"dbName":"easel"}\n');
    expect(await connectCliDatabase({ mongodbUri: undefined, dataDir }, logger)).toBeUndefined();
    expect(mongoose.connection.readyState).toBe(mongoose.ConnectionStates.disconnected);
  });
});
