import { mkdir } from 'node:fs/promises';
import { DryMongoBinary, MongoBinary, MongoMemoryServer } from 'mongodb-memory-server-core';
import type { Logger } from 'pino';
import type { EmbeddedServer } from './jongodb.js';

/**
 * mongodb-memory-server downloads mongod on first use (about 100 MB). We wait this long for it; a
 * download still running afterwards finishes in the background and lands in its cache, so a later
 * start finds the binary. Offline the download fails (after its own retries) and we move on.
 */
const DOWNLOAD_WAIT_MS = 3_000;

/**
 * Starts a real mongod (a standalone server, not a replica set) keeping its files in `dbPath`
 * across restarts. Throws when no mongod binary can be had quickly.
 */
export async function startEmbeddedMongod(options: { dbPath: string; logger: Logger }): Promise<EmbeddedServer> {
  // Once found (or downloaded) the binary sits where MongoMemoryServer looks for it.
  await findMongodBinary(options.logger);
  await mkdir(options.dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath: options.dbPath, storageEngine: 'wiredTiger' },
  });
  return {
    uri: server.getUri(),
    async stop() {
      // doCleanup: false keeps dbPath; the data must survive a restart.
      await server.stop({ doCleanup: false });
    },
  };
}

async function findMongodBinary(logger: Logger): Promise<string> {
  const local = await DryMongoBinary.locateBinary(DryMongoBinary.getEnsuredOptions());
  if (local) return local;

  const download = MongoBinary.getPath();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no mongod binary was ready within ${DOWNLOAD_WAIT_MS} ms`)), DOWNLOAD_WAIT_MS);
  });
  try {
    return await Promise.race([download, timeout]);
  } catch (error) {
    download.then(
      (binary) => logger.info({ binary }, 'mongod downloaded; the next start will use it'),
      (downloadError: unknown) => logger.debug({ err: downloadError }, 'mongod download failed'),
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
