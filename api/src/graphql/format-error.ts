import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { ErrorCode } from './errors.js';

/**
 * Shapes every error sent to a client, over HTTP (Apollo's formatError) and WebSocket alike.
 * An error without a code is a bug, not the caller's fault: it is logged with its stack, coded
 * INTERNAL_SERVER_ERROR, and in production its message (which may name internals) is replaced.
 */
export function errorFormatter(options: { logger: Logger; isProduction: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
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
