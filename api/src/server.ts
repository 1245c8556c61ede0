import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { ACCESS_CHANGES_TOPIC } from './accounts/access-changes.js';
import { Accounts, type User } from './accounts/accounts.js';
import { bearerKey } from './accounts/api-key-format.js';
import { TokenService } from './accounts/token-service.js';
import { Catalog } from './catalog/catalog.js';
import { LoraCatalog } from './catalog/lora-catalog.js';
import { STARTER_CATALOG } from './catalog/starter.js';
import type { Config } from './config.js';
import { initIndexes, startDatabase, type Database } from './db/connection.js';
import { callbackRouter } from './http/callbacks.js';
import { clientAddress, proxyTrust } from './http/client-address.js';
import { createDispatcher } from './generations/dispatch/dispatcher.js';
import { createGpuFunction } from './generations/dispatch/lambda.js';
import { RunningJobs } from './generations/events/running-jobs.js';
import { ImageLinks } from './generations/images/image-links.js';
import { ErrorCode, toGraphQLError } from './graphql/errors.js';
import { errorFormatter } from './graphql/format-error.js';
import { checkCost, limitRules, parseOptions } from './graphql/query-limits.js';
import { useImageStore } from './generations/images/image-store.js';
import { gridFsStore } from './generations/images/gridfs-store.js';
import { s3Store } from './generations/images/s3-store.js';
import { callerKey, type GraphQLContext } from './graphql/context.js';
import type { EaselPubSub } from './generations/events/event-bus.js';
import { createEaselPubSub } from './generations/events/in-process.js';
import { createRedisPubSub } from './generations/events/redis.js';
import { buildEaselSchema } from './graphql/schema.js';
import { graphqlWebSocket } from './graphql/websocket.js';
import { errorHandler, notFound } from './http/errors.js';
import { graphiqlAssets, graphiqlPage } from './http/graphiql.js';
import { healthz } from './http/healthz.js';
import { imageRoutes } from './http/image-routes.js';
import { uploadRoutes } from './http/uploads.js';
import { requestLog } from './http/request-log.js';
import { corsPolicy, securityHeaders } from './http/security.js';
import { studioRoutes } from './http/studio.js';
import { createLogger } from './logger.js';
import { authenticateFrom } from './rate-limits/authenticate.js';
import { RateLimits } from './rate-limits/rate-limits.js';
import type { Services } from './services.js';
import type { LifecycleServices } from './generations/events/lifecycle.js';
import { WebhookWorker } from './webhooks/delivery-worker.js';
import { SecretBox } from './webhooks/secret-box.js';
import { recordWebhookEvent } from './webhooks/webhook-deliveries.js';
import { WebhookSecrets } from './webhooks/webhook-secrets.js';

export const GRAPHQL_PATH = '/graphql';

/** Seams for tests and tools; production uses none of them but `prepare`. */
export interface ServerOverrides {
  logger?: Logger;
  /** Which embedded database to run when MONGODB_URI is unset: 'auto' tries a real mongod first. */
  embeddedDatabase?: 'auto' | 'jongodb';
  /** Use this database name instead of the URI's (tests give each file its own). */
  dbName?: string;
  /** The token service's idea of now, for tests that cross a UTC day. */
  clock?: () => Date;
  /** How long shutdown waits for requests in flight before cutting them off. */
  shutdownGraceMs?: number;
  /**
   * Runs once the database and the starter catalog are ready, before the server listens and the
   * dispatcher takes jobs: main installs and registers models here, so that no job goes out for a
   * model whose files are not there yet.
   */
  prepare?: (services: Services) => Promise<void>;
}

export interface RunningServer {
  /** e.g. http://localhost:4000 */
  url: string;
  port: number;
  database: Database;
  services: Services;
  /** Stops accepting, lets requests in flight finish, closes WebSockets, then the database. */
  close(): Promise<void>;
}

/** Starts the whole API: database, indexes, starter catalog, HTTP and WebSocket on one port. */
export async function startServer(config: Config, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = overrides.logger ?? createLogger(config);
  const database = await startDatabase({
    uri: config.mongodbUri,
    dataDir: config.dataDir,
    logger,
    embedded: overrides.embeddedDatabase,
    dbName: overrides.dbName,
  });
  let pubSub: EaselPubSub | undefined;
  try {
    await initIndexes();
    useImageStore(config.images.store === 's3' ? s3Store(config.images) : gridFsStore);
    const tokens = new TokenService({ allowances: config.dailyTokens, clock: overrides.clock });
    const bus = config.redisUrl ? await createRedisPubSub(config.redisUrl, logger) : createEaselPubSub();
    pubSub = bus;
    // What ends, moves and announces jobs: the callbacks and the dispatcher share it.
    const lifecycle: LifecycleServices = {
      tokens,
      pubSub: bus,
      logger,
      recordDeliveries: (generation) => recordWebhookEvent(generation, services.publicUrl),
    };
    const loras = new LoraCatalog(config.lorasDir);
    const trust = proxyTrust(config.trustProxy);
    const services: Services = {
      config,
      logger,
      // Every instance hears of a revoked key or changed user, and closes its sockets.
      accounts: new Accounts((change) => bus.publish(ACCESS_CHANGES_TOPIC, change)),
      rateLimits: new RateLimits(config.rateLimits, { redisUrl: config.redisUrl, logger }),
      tokens,
      catalog: new Catalog(config.modelsDir),
      loras,
      pubSub: bus,
      lifecycle,
      dispatcher: createDispatcher({
        services: lifecycle,
        loras,
        gpu: createGpuFunction(config, logger),
        concurrency: config.gpu.concurrency,
        perUser: config.gpu.perUser,
        leaseMs: config.gpu.leaseSeconds * 1000,
      }),
      // Without PUBLIC_URL, the listening address, known once listening (see listen).
      publicUrl: config.publicUrl ?? '',
      imageLinks: new ImageLinks(config.imageLinkKey),
      clientAddress: (request) => clientAddress(request, trust),
      webhookSecrets: new WebhookSecrets(config.webhookSecretsKey === undefined ? undefined : new SecretBox(config.webhookSecretsKey, config.webhookSecretsPreviousKeys)),
    };
    if (config.isProduction && !config.webhookSecretsKey) logger.warn('WEBHOOK_SECRETS_KEY is not set: webhook signing secrets are stored unsealed in the database');
    const seeded = await services.catalog.seed(STARTER_CATALOG);
    if (seeded.models || seeded.presets) logger.info(seeded, 'added the starter catalog entries this database lacked');
    await overrides.prepare?.(services);
    return await listen(config, services, database, overrides);
  } catch (error) {
    await pubSub?.close();
    await database.stop();
    throw error;
  }
}

async function listen(config: Config, services: Services, database: Database, overrides: ServerOverrides): Promise<RunningServer> {
  const { logger } = services;
  const { queryLimits } = config;
  const schema = await buildEaselSchema(services.pubSub);
  const formatError = errorFormatter({ logger, isProduction: config.isProduction, queryLimits });
  const authenticate = (authorization: unknown, address: string) => callerOf(authorization, address, services);

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);

  const websockets = graphqlWebSocket({ httpServer, path: GRAPHQL_PATH, schema, services, authenticate, formatError, accessRecheckMs: config.wsAccessRecheckSeconds * 1000 });

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: !config.isProduction,
    // Query limits: tokens while parsing, aliases and depth while validating, cost once the variables are known.
    parseOptions: parseOptions(queryLimits),
    validationRules: limitRules(queryLimits),
    // The schema is public (schema/schema.graphql); GraphiQL needs it in production too.
    introspection: true,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: overrides.shutdownGraceMs }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await websockets.dispose();
            },
          };
        },
      },
      // Apollo's own landing page loads from a CDN; GraphiQL is served below instead.
      ApolloServerPluginLandingPageDisabled(),
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ document, request }) {
              checkCost(schema, document, queryLimits, request);
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  app.use(securityHeaders(config), corsPolicy(config));
  // Before the request log: a job posts an event per step; the router logs what matters.
  app.use(callbackRouter({ services: services.lifecycle, dispatcher: services.dispatcher, leaseMs: config.gpu.leaseSeconds * 1000, runningJobs: new RunningJobs() }));
  app.use(requestLog(logger));
  app.get('/healthz', healthz(database, services.pubSub));
  app.use(uploadRoutes(services), imageRoutes(services));
  app.use(graphiqlAssets);
  app.use(studioRoutes());
  app.get(GRAPHQL_PATH, graphiqlPage({ endpoint: GRAPHQL_PATH, publicUrl: config.publicUrl, memoryOnly: database.kind === 'jongodb' }));
  app.use(
    GRAPHQL_PATH,
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<GraphQLContext> => ({ user: await authenticate(req.headers.authorization, services.clientAddress(req)), services }),
    }),
  );
  // Whatever no route answered, and the body parsers' errors: JSON with a code, never HTML.
  app.use(notFound(GRAPHQL_PATH), errorHandler(GRAPHQL_PATH, logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  services.publicUrl = config.publicUrl ?? url;
  logger.info({ url: `${url}${GRAPHQL_PATH}`, database: database.kind, persistent: database.kind !== 'jongodb' }, 'Easel API ready');
  services.dispatcher.start(config.callbackUrl ?? config.publicUrl ?? loopbackUrl(config.host, port));
  const webhooks = new WebhookWorker({
    pubSub: services.pubSub,
    logger,
    ...config.webhooks,
    publicOnly: config.isProduction,
    publicUrl: () => services.publicUrl,
    secrets: services.webhookSecrets,
  });
  webhooks.start();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: finishing requests in flight');
      await services.dispatcher.stop();
      await webhooks.stop();
      await apollo.stop();
      await services.rateLimits.close();
      await services.pubSub.close();
      await database.stop();
      logger.info('stopped');
    })());

  return { url, port, database, services, close };
}

/** This server as a GPU function on this machine reaches it. */
function loopbackUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The caller named by an Authorization value (HTTP header or WebSocket connectionParams). None:
 * anonymous, and resolvers that need a user say UNAUTHENTICATED. A key that is unknown or
 * revoked fails the whole request, so a stale key is noticed at once rather than mistaken for
 * anonymous access.
 */
async function callerOf(authorization: unknown, address: string, services: Pick<Services, 'accounts' | 'rateLimits'>): Promise<User | undefined> {
  // "Bearer " with nothing after it is GraphiQL's untouched template: no key yet.
  if (authorization === undefined || authorization === null || /^\s*(Bearer\s*)?$/i.test(String(authorization))) return undefined;
  let user: User | undefined;
  try {
    user = await authenticateFrom(address, bearerKey(authorization), services);
  } catch (error) {
    throw toGraphQLError(error);
  }
  if (!user) {
    throw new GraphQLError('This API key is unknown or revoked. Send "Authorization: Bearer easel_…" with a valid key.', {
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
    });
  }
  return user;
}
