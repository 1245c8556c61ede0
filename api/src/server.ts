import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { Accounts, type User } from './accounts/accounts.js';
import { bearerKey } from './accounts/api-key-format.js';
import { TokenService } from './accounts/token-service.js';
import { Catalog } from './catalog/catalog.js';
import { STARTER_CATALOG } from './catalog/starter.js';
import type { Config } from './config.js';
import { initIndexes, startDatabase, type Database } from './db/connection.js';
import { callbackRouter } from './http/callbacks.js';
import { createDispatcher } from './generations/dispatch/dispatcher.js';
import { ImageLinks } from './generations/images/image-links.js';
import { useImageStore } from './generations/images/image-store.js';
import { gridFsStore } from './generations/images/gridfs-store.js';
import { s3Store } from './generations/images/s3-store.js';
import { imageRoutes } from './http/image-routes.js';
import { createGpuFunction } from './generations/dispatch/lambda.js';
import { uploadRoutes } from './http/uploads.js';
import { callerKey, type GraphQLContext } from './graphql/context.js';
import type { Services } from './services.js';
import { ErrorCode } from './graphql/errors.js';
import { errorFormatter } from './graphql/format-error.js';
import type { EaselPubSub } from './generations/events/event-bus.js';
import { createEaselPubSub } from './generations/events/in-process.js';
import { createRedisPubSub } from './generations/events/redis.js';
import { buildEaselSchema } from './graphql/schema.js';
import { sharedSubscribe } from './graphql/shared-subscriptions.js';
import { graphiqlAssets, graphiqlPage } from './http/graphiql.js';
import { healthz } from './http/healthz.js';
import { requestLog } from './http/request-log.js';
import { studioRoutes } from './http/studio.js';
import { createLogger } from './logger.js';
import { WebhookWorker } from './webhooks/delivery-worker.js';

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
    pubSub = config.redisUrl ? await createRedisPubSub(config.redisUrl, logger) : createEaselPubSub();
    const services: Services = {
      config,
      logger,
      accounts: new Accounts(),
      tokens,
      catalog: new Catalog(config.modelsDir),
      pubSub,
      dispatcher: createDispatcher({
        services: { tokens, pubSub, logger },
        gpu: createGpuFunction(config, logger),
        concurrency: config.gpu.concurrency,
        perUser: config.gpu.perUser,
        leaseMs: config.gpu.leaseSeconds * 1000,
      }),
      // Without PUBLIC_URL, the listening address, known once listening (see listen).
      publicUrl: config.publicUrl ?? '',
      imageLinks: new ImageLinks(config.imageLinkKey),
    };
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
  const { logger, accounts } = services;
  const schema = await buildEaselSchema(services.pubSub);
  const formatError = errorFormatter({ logger, isProduction: config.isProduction });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);

  // WebSocket clients authenticate once per connection: connectionParams { Authorization: "Bearer <key>" }.
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH });
  const websockets = useServer<Record<string, unknown>, { user: User }>(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          ctx.extra.user = await callerOf(ctx.connectionParams?.Authorization ?? ctx.connectionParams?.authorization, accounts);
          return true;
        } catch (error) {
          if (error instanceof GraphQLError) return false; // a bad key: closes with 4403 Forbidden
          throw error;
        }
      },
      context: (ctx): GraphQLContext => ({ user: ctx.extra.user, services }),
      // A crowd watching one generation: each update is executed once per query and caller, not per subscriber.
      subscribe: sharedSubscribe((context) => callerKey(context as GraphQLContext)),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) } : undefined,
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: !config.isProduction,
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
    ],
  });
  await apollo.start();

  // Before the request log: a job posts an event per step; the router logs what matters.
  app.use(callbackRouter({ services, dispatcher: services.dispatcher, leaseMs: config.gpu.leaseSeconds * 1000 }));
  app.use(requestLog(logger));
  app.get('/healthz', healthz(database, services.pubSub));
  app.use(uploadRoutes(services), imageRoutes(services));
  app.use(graphiqlAssets);
  app.use(studioRoutes());
  app.get(GRAPHQL_PATH, graphiqlPage({ endpoint: GRAPHQL_PATH, publicUrl: config.publicUrl }));
  app.use(
    GRAPHQL_PATH,
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<GraphQLContext> => ({ user: await callerOf(req.headers.authorization, accounts), services }),
    }),
  );

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
  logger.info({ url: `${url}${GRAPHQL_PATH}`, database: database.kind }, 'Easel API ready');
  services.dispatcher.start(config.callbackUrl ?? config.publicUrl ?? loopbackUrl(config.host, port));
  const webhooks = new WebhookWorker({
    pubSub: services.pubSub,
    logger,
    ...config.webhooks,
    publicOnly: config.isProduction,
    publicUrl: () => services.publicUrl,
  });
  webhooks.start();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: finishing requests in flight');
      await services.dispatcher.stop();
      await webhooks.stop();
      await apollo.stop();
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
async function callerOf(authorization: unknown, accounts: Accounts): Promise<User | undefined> {
  // "Bearer " with nothing after it is GraphiQL's untouched template: no key yet.
  if (authorization === undefined || authorization === null || /^\s*(Bearer\s*)?$/i.test(String(authorization))) return undefined;
  const key = bearerKey(authorization);
  const user = key ? await accounts.authenticate(key) : undefined;
  if (!user) {
    throw new GraphQLError('This API key is unknown or revoked. Send "Authorization: Bearer easel_…" with a valid key.', {
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
    });
  }
  return user;
}
