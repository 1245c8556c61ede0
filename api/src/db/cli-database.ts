import type { Logger } from 'pino';
import { readDatabaseAddress } from '../admin-address.js';
import type { Config } from '../config.js';
import { type Database, initIndexes, startDatabase } from './connection.js';

/**
 * The database a command-line tool run beside Easel works on: MONGODB_URI, or else the embedded
 * database of an Easel server running from this folder (it leaves its address in DATA_DIR).
 * Undefined when there is neither: a tool never starts a database of its own, which would be empty.
 */
export async function connectCliDatabase(config: Pick<Config, 'mongodbUri' | 'dataDir'>, logger: Logger): Promise<Database | undefined> {
  const address = config.mongodbUri ? { uri: config.mongodbUri, dbName: undefined } : await readDatabaseAddress(config.dataDir);
  if (!address?.uri) return undefined;
  const database = await startDatabase({ uri: address.uri, dbName: address.dbName, dataDir: config.dataDir, logger });
  try {
    await initIndexes();
  } catch (error) {
    await database.stop();
    throw error;
  }
  return database;
}
