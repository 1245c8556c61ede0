import { CommanderError } from 'commander';
import { pino } from 'pino';
import { Accounts, LoraCatalog } from '@easel/api/admin';
import { TokenService } from '@easel/api/admin';
import { ConfigError, loadConfig } from '@easel/api';
import { connectCliDatabase } from '@easel/api/admin';
import { adminProgram } from './admin-program.js';
import { hubFromEnvironment } from './hub/hub-api.js';

/**
 * `npm run admin -- <command>`: works on the database at MONGODB_URI, or else on the embedded
 * database of an Easel server running from this folder (it leaves its address in DATA_DIR).
 * The same can be done with the admin GraphQL mutations.
 */

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const config = (() => {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
})();

async function connect(): Promise<() => Promise<void>> {
  const database = await connectCliDatabase(config, pino({ level: 'warn' }));
  if (!database) {
    fail(
      'No database to work on. Set MONGODB_URI to the database Easel uses, or start Easel (npm start)\n' +
        `from this folder first: its embedded database leaves its address in ${config.dataDir}.`,
    );
  }
  return () => database.stop();
}

const program = adminProgram({
  accounts: new Accounts(),
  tokens: new TokenService({ allowances: config.dailyTokens }),
  loras: new LoraCatalog(config.lorasDir),
  // As models:fetch: HF_ENDPOINT, HF_TOKEN and the standard Hugging Face cache.
  hub: hubFromEnvironment(),
  connect,
  out: (line) => console.log(line),
  err: (line) => {
    console.error(line);
    process.exitCode = 1;
  },
});
try {
  await program.parseAsync();
} catch (error) {
  // Commander has already printed the usage problem (or the help, with exit code 0).
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode;
}
