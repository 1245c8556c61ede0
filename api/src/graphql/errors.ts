import { GraphQLError } from 'graphql';
import type { MiddlewareFn } from 'type-graphql';
import { InsufficientTokensError } from '../accounts/token-service.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js';
import { RateLimitedError } from '../rate-limits/rate-limits.js';
import { EventBusUnavailableError } from '../generations/events/event-bus.js';

/**
 * The `extensions.code` values clients can rely on. Apollo's own (GRAPHQL_PARSE_FAILED,
 * GRAPHQL_VALIDATION_FAILED, BAD_REQUEST, ...) come on top for malformed requests.
 */
export const ErrorCode = {
  /** No API key, or one that is unknown or revoked. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** A valid key whose user lacks the role the operation needs. */
  FORBIDDEN: 'FORBIDDEN',
  /** An argument is invalid; the message says which and why. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  /** Collides with something that exists, such as a taken name or slug. */
  CONFLICT: 'CONFLICT',
  INSUFFICIENT_TOKENS: 'INSUFFICIENT_TOKENS',
  /** Over a rate limit; `extensions.retryAfter` says in how many seconds to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Over a query limit (aliases, depth, tokens, cost); `extensions.limit`, `max` and `actual` say which. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** A malformed request: not JSON, a persisted query whose hash does not match, ... */
  BAD_REQUEST: 'BAD_REQUEST',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** Live updates cannot be delivered now (the event bus lost Redis); subscribe again shortly. */
  EVENTS_UNAVAILABLE: 'EVENTS_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function graphqlError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const unauthenticated = () =>
  graphqlError(ErrorCode.UNAUTHENTICATED, 'Send a valid API key: "Authorization: Bearer easel_…".');

export const forbidden = (needs: string) => graphqlError(ErrorCode.FORBIDDEN, `Only ${needs} may do this.`);

/** Turns the domain layer's errors into GraphQL errors with stable codes; others pass unchanged. */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof GraphQLError) return error;
  if (error instanceof InvalidInputError) {
    const fields = error.invalidFields.length ? { invalidFields: error.invalidFields } : {};
    return graphqlError(ErrorCode.BAD_USER_INPUT, error.message, fields);
  }
  if (error instanceof NotFoundError) return graphqlError(ErrorCode.NOT_FOUND, error.message);
  if (error instanceof ConflictError) return graphqlError(ErrorCode.CONFLICT, error.message);
  if (error instanceof RateLimitedError) return rateLimited(error);
  if (error instanceof EventBusUnavailableError) return graphqlError(ErrorCode.EVENTS_UNAVAILABLE, error.message);
  if (error instanceof InsufficientTokensError) {
    // What a client needs to explain the refusal without another request.
    return graphqlError(ErrorCode.INSUFFICIENT_TOKENS, error.message, {
      balance: error.balance.balance,
      needed: error.needed,
      resetsAt: error.balance.resetsAt.toISOString(),
    });
  }
  return error;
}

export function rateLimited(error: RateLimitedError): GraphQLError {
  return graphqlError(ErrorCode.RATE_LIMITED, error.message, { retryAfter: error.retryAfterSeconds, http: { status: 429 } });
}

/** A global middleware, so every resolver (HTTP or WebSocket) reports domain errors the same way. */
export const DomainErrors: MiddlewareFn = async (_, next) => {
  try {
    return await next();
  } catch (error) {
    throw toGraphQLError(error);
  }
};
