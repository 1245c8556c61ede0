import path from 'node:path';
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import { startEmbeddedMongod } from './embedded-mongod.js';
import { type EmbeddedServer, startJongodb } from './jongodb.js';

export type DatabaseKind = 'external' | 'mongod' | 'jongodb';

export interface Database {
  kind: DatabaseKind;
  uri: string;
  stop(): Promise<void>;
}

export interface StartDatabaseOptions {
  /** MONGODB_URI: when given, the only database we use. */
  uri?: string;
  /** The embedded mongod keeps its files under `<dataDir>/mongo`. */
  dataDir: string;
  logger: Logger;
  /** Which embedded server to run without `uri`: 'auto' tries a real mongod first (the default). */
  embedded?: 'auto' | 'jongodb';
  /** Overrides the database named in `uri` (tests give each file its own). */
  dbName?: string;
}

const EMBEDDED_DB_NAME = 'easel';

/**
 * Connects the global mongoose connection to MONGODB_URI, or else to an embedded server: a real
 * mongod when one can be had, else jongodb (in memory only).
 *
 * autoCreate and autoIndex are off because jongodb lacks the `create` command and silently skips
 * unique indexes that are built implicitly; `initIndexes()` builds them explicitly instead.
 */
export async function startDatabase(options: StartDatabaseOptions): Promise<Database> {
  const { logger } = options;
  if (options.uri) {
    await connect(options.uri, options.dbName);
    logger.info({ database: 'external', host: hostOf(options.uri) }, 'connected to MongoDB');
    return { kind: 'external', uri: options.uri, stop: disconnect };
  }

  let kind: DatabaseKind = 'jongodb';
  let server: EmbeddedServer | undefined;
  let noMongod = 'not tried';
  if ((options.embedded ?? 'auto') === 'auto') {
    const dbPath = path.join(options.dataDir, 'mongo');
    try {
      server = await startEmbeddedMongod({ dbPath, logger });
      kind = 'mongod';
      logger.info({ database: 'mongod', dbPath }, 'started an embedded mongod; data is kept across restarts');
    } catch (error) {
      noMongod = error instanceof Error ? error.message : String(error);
      logger.debug({ err: error }, 'no embedded mongod');
    }
  }
  if (!server) {
    server = await startJongodb(logger);
    logger.warn(
      { database: 'jongodb', noMongod },
      'no MongoDB server available: using the in-memory jongodb server. ALL DATA IS LOST WHEN EASEL STOPS. Set MONGODB_URI to keep it.',
    );
  }

  const embedded = server;
  try {
    await connect(embedded.uri, options.dbName ?? EMBEDDED_DB_NAME);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return {
    kind,
    uri: embedded.uri,
    async stop() {
      await disconnect();
      await embedded.stop();
    },
  };
}

/**
 * Builds every registered model's indexes; call once all models are imported, before serving.
 * `Model.init()` alone would build nothing: it skips indexes when autoIndex is off.
 */
export async function initIndexes(): Promise<void> {
  for (const name of mongoose.modelNames()) {
    const model = mongoose.model(name);
    await model.init();
    await model.createIndexes();
  }
}

async function connect(uri: string, dbName: string | undefined): Promise<void> {
  await mongoose.connect(uri, {
    autoCreate: false,
    autoIndex: false,
    serverSelectionTimeoutMS: 10_000,
    ...(dbName ? { dbName } : {}),
  });
}

async function disconnect(): Promise<void> {
  await mongoose.disconnect();
}

/** The host part only: a URI may carry credentials, which never go into logs. */
function hostOf(uri: string): string {
  try {
    return new URL(uri).host;
  } catch {
    return '(unparsable URI)';
  }
}
