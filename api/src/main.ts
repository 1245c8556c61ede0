import mongoose from 'mongoose';
import { publishDatabaseAddress, withdrawDatabaseAddress } from './admin-address.js';
import { prepareModels } from './catalog/demo-models.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { GRAPHQL_PATH, startServer, type RunningServer } from './server.js';

/** Past the requests' grace period (10 s), something is stuck: give up rather than hang. */
const SHUTDOWN_LIMIT_MS = 30_000;

/** Entry point: configuration, then the server; shuts down cleanly on SIGTERM and SIGINT. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config);
  // The models before the dispatcher: a job queued before a restart must find its model's files.
  const server = await startServer(config, {
    logger,
    prepare: async ({ catalog }) => {
      await prepareModels({ catalog, modelsDir: config.modelsDir, logger, demoModels: !config.isProduction });
    },
  });

  const embedded = server.database.kind !== 'external';
  if (embedded) await publishDatabaseAddress(config.dataDir, { uri: server.database.uri, dbName: mongoose.connection.name });

  // Ctrl-C in `npm start` signals npm and Easel alike, and npm passes it on: one signal often
  // arrives twice. The first starts the shutdown; later ones only wait for it.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    if (embedded) await withdrawDatabaseAddress(config.dataDir);
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  if (!config.isProduction) await welcomeDeveloper(config, server);
}

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/**
 * Development: the dev user and its key, printed to the terminal (never to the logs). The Studio
 * link carries the key in the URL fragment, which the browser keeps to itself: it never reaches
 * the server or its request log.
 */
async function welcomeDeveloper(config: Config, server: RunningServer): Promise<void> {
  const { user, key } = await server.services.accounts.ensureDevUser(config.devApiKey);
  const lines = [
    '',
    `  Easel is running. Easel Studio, signed in as the dev user:`,
    `    ${server.url}/#key=${encodeURIComponent(key)}`,
    `  GraphiQL: ${server.url}${GRAPHQL_PATH}`,
    '',
    `  Dev user "${user.name}" (${user.role}), API key:`,
    `    ${key}`,
    '  In GraphiQL, put it in the Headers tab:',
    `    { "Authorization": "Bearer ${key}" }`,
  ];
  if (!config.devApiKey) {
    lines.push('  (A new key each start; set DEV_API_KEY to keep one.)');
  }
  if (server.database.kind === 'jongodb') {
    lines.push('', '  The database is in memory: everything is lost when Easel stops. Set MONGODB_URI to keep data.');
  }
  lines.push('', '  Admin CLI, in another terminal: npm run admin -- --help', '');
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error: unknown) => {
  console.error('Easel could not start:', error);
  process.exit(1);
});
