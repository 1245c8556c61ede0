import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * An embedded database lives inside the running server, on a port picked at start. The server
 * leaves its address in DATA_DIR so that the admin CLI, run beside it, can reach the same data
 * without MONGODB_URI. It is a loopback address without credentials: nothing secret.
 */
export interface DatabaseAddress {
  uri: string;
  dbName: string;
}

const FILE = 'embedded-database.json';

export async function publishDatabaseAddress(dataDir: string, address: DatabaseAddress): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, FILE), JSON.stringify(address) + '\n');
}

export async function readDatabaseAddress(dataDir: string): Promise<DatabaseAddress | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as DatabaseAddress;
  } catch {
    return undefined;
  }
}

export async function withdrawDatabaseAddress(dataDir: string): Promise<void> {
  await rm(join(dataDir, FILE), { force: true });
}
