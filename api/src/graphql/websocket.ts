import type { Server } from 'node:http';
import { GraphQLError, specifiedRules, validate, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { ACCESS_CHANGES_TOPIC, type AccessChange } from '../accounts/access-changes.js';
import type { User } from '../accounts/accounts.js';
import { bearerKey, hashApiKey } from '../accounts/api-key-format.js';
import { RateLimitedError } from '../rate-limits/rate-limits.js';
import type { Services } from '../services.js';
import { callerKey, type GraphQLContext } from './context.js';
import { ErrorCode } from './errors.js';
import type { errorFormatter } from './format-error.js';
import { checkCost, limitRules, parseWithLimits } from './query-limits.js';
import { sharedSubscribe } from './shared-subscriptions.js';

/** Close codes a client sees when the server ends its connection (graphql-ws's 4401 and 4403). */
export const WS_CLOSE = {
  /** No key, a bad one, or one revoked (or its user deleted) while connected. */
  unauthorized: CloseCode.Unauthorized,
  /** The user's role or plan changed while connected: reconnect to act under the new one. */
  accessChanged: CloseCode.Forbidden,
} as const;

interface SocketExtra {
  user: User;
  keyHash: string;
}

/** Authenticates a connection's key; throws the GraphQL error callers see. */
export type Authenticate = (authorization: unknown, address: string) => Promise<User | undefined>;

/**
 * GraphQL over WebSocket on `path`: a connection needs a valid key in its connectionParams
 * (`{ Authorization: "Bearer <key>" }`); operations meet the same query limits as over HTTP; a
 * revoked key or changed user has its sockets closed at once, on every instance (the access
 * change arrives on the event bus). What the bus cannot carry (a change made by the admin
 * command line, in its own process; one published while Redis was away) is caught by checking
 * every open socket's key against the database every `accessRecheckMs`.
 */
export function graphqlWebSocket(options: {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  services: Services;
  authenticate: Authenticate;
  formatError: ReturnType<typeof errorFormatter>;
  /** How often open sockets' keys are checked against the database. */
  accessRecheckMs: number;
}) {
  const { services, schema, authenticate, formatError } = options;
  const { queryLimits } = services.config;
  const open = new Map<WebSocket, SocketExtra>();

  const wsServer = new WebSocketServer({
    server: options.httpServer,
    path: options.path,
    // Refused before the upgrade: 429 with Retry-After, like the REST routes.
    verifyClient: (info, accept) => {
      services.rateLimits.consume('wsConnects', services.clientAddress(info.req)).then(
        () => accept(true),
        (error: unknown) => {
          if (error instanceof RateLimitedError) accept(false, 429, error.message, { 'retry-after': String(error.retryAfterSeconds) });
          else accept(false, 500, 'Internal server error');
        },
      );
    },
  });

  const server = useServer<Record<string, unknown>, Partial<SocketExtra>>(
    {
      schema,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.Authorization ?? ctx.connectionParams?.authorization;
        let user: User | undefined;
        try {
          user = await authenticate(authorization, services.clientAddress(ctx.extra.request));
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
        }
        // No key or a bad one: closed with 4403 Forbidden before any operation.
        if (!user) return false;
        ctx.extra.user = user;
        ctx.extra.keyHash = hashApiKey(bearerKey(authorization)!);
        open.set(ctx.extra.socket, ctx.extra as SocketExtra);
        ctx.extra.socket.once('close', () => open.delete(ctx.extra.socket));
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        try {
          const document = parseWithLimits(payload.query, queryLimits);
          const errors = validate(schema, document, [...specifiedRules, ...limitRules(queryLimits)]);
          if (errors.length) return errors.map((error) => coded(error, ErrorCode.GRAPHQL_VALIDATION_FAILED));
          checkCost(schema, document, queryLimits, payload);
          return { schema, document, variableValues: payload.variables, operationName: payload.operationName } satisfies ExecutionArgs;
        } catch (error) {
          if (error instanceof GraphQLError) return [coded(error, ErrorCode.GRAPHQL_PARSE_FAILED)];
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

  function close(socket: WebSocket, change: AccessChange): void {
    const [code, reason] =
      change.kind === 'KEY_REVOKED' || change.change === 'deleted'
        ? [WS_CLOSE.unauthorized, change.kind === 'KEY_REVOKED' ? 'API key revoked' : 'User deleted']
        : [WS_CLOSE.accessChanged, `Access changed (${change.change}): reconnect`];
    open.delete(socket);
    socket.close(code, reason);
  }

  const stopListening = services.pubSub.listen(ACCESS_CHANGES_TOPIC, undefined, (payload: unknown) => {
    const change = payload as AccessChange;
    for (const [socket, extra] of open) {
      if (extra.user.id !== change.userId) continue;
      if (change.kind === 'KEY_REVOKED' && extra.keyHash !== change.keyHash) continue;
      close(socket, change);
    }
  });

  /** The net under the bus: every open socket's key and user as the database has them now. */
  async function recheckAccess(): Promise<void> {
    const access = await services.accounts.currentAccess([...new Set([...open.values()].map((extra) => extra.keyHash))]);
    for (const [socket, extra] of open) {
      const now = access.get(extra.keyHash);
      const userId = extra.user.id;
      if (!now) close(socket, { kind: 'KEY_REVOKED', userId, keyHash: extra.keyHash });
      else if (now.role !== extra.user.role) close(socket, { kind: 'USER_CHANGED', userId, change: 'role' });
      else if (now.plan !== extra.user.plan) close(socket, { kind: 'USER_CHANGED', userId, change: 'plan' });
    }
  }
  const recheckTimer = setInterval(() => {
    if (open.size === 0) return;
    recheckAccess().catch((error: unknown) => services.logger.warn({ err: error }, 'could not recheck the open sockets\' API keys; trying again later'));
  }, options.accessRecheckMs);
  recheckTimer.unref();

  return {
    async dispose() {
      clearInterval(recheckTimer);
      stopListening();
      await server.dispose();
    },
  };
}

/** graphql-ws sends errors as they are: give them the code the HTTP path would have. */
function coded(error: GraphQLError, fallback: string): GraphQLError {
  if (error.extensions.code) {
    const { http: _http, ...extensions } = error.extensions;
    return new GraphQLError(error.message, { nodes: error.nodes, extensions });
  }
  return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: fallback } });
}
