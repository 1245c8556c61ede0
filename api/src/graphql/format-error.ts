import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import type { QueryLimits } from '../config.js';
import { ErrorCode } from './errors.js';
import { tokenLimitError } from './query-limits.js';

/**
 * Shapes every error sent to a client, over HTTP (Apollo's formatError) and WebSocket alike.
 * An error without a code is a bug, not the caller's fault: it is logged with its stack, coded
 * INTERNAL_SERVER_ERROR, and in production its message (which may name internals) is replaced.
 * Apollo's own refusals keep the caller's code: query limits (which Apollo files under
 * validation or parsing) are QUERY_TOO_COMPLEX, other 400s (a persisted query whose hash does not
 * match) BAD_REQUEST.
 */
export function errorFormatter(options: { logger: Logger; isProduction: boolean; queryLimits: QueryLimits }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const refusal = callerFault(formatted, error, options.queryLimits);
    if (refusal) return refusal;
    const code = formatted.extensions?.code;
    if (code !== undefined && code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
    options.logger.error({ err: unwrapResolverError(error), path: formatted.path }, 'unexpected error in a GraphQL operation');
    return {
      ...formatted,
      message: options.isProduction ? 'Internal server error' : formatted.message,
      extensions: { ...(options.isProduction ? {} : formatted.extensions), code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

function callerFault(formatted: GraphQLFormattedError, error: unknown, limits: QueryLimits): GraphQLFormattedError | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const original = error.originalError;
  if (original instanceof GraphQLError && original.extensions.code === ErrorCode.QUERY_TOO_COMPLEX) return withoutHttp(original);
  if (formatted.extensions?.code === ErrorCode.GRAPHQL_PARSE_FAILED) {
    const tokens = tokenLimitError(error, limits);
    return tokens ? withoutHttp(tokens) : undefined;
  }
  const status = (error.extensions.http as { status?: number } | undefined)?.status;
  // Apollo fills a missing code with INTERNAL_SERVER_ERROR before formatting: look at the error itself.
  if (error.extensions.code === undefined && status === 400) {
    return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
  }
  return undefined;
}

function withoutHttp(error: GraphQLError): GraphQLFormattedError {
  const { http: _http, ...extensions } = error.extensions;
  return { message: error.message, ...(error.locations ? { locations: error.locations } : {}), extensions };
}
