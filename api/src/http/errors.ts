import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { sendError } from './require-user.js';

/**
 * The last two handlers of the app: every request that reaches them gets JSON with a code,
 * never Express's HTML page (which shows the stack and paths in development). On the GraphQL
 * path the shape is GraphQL's (`{ errors: [{ message, extensions: { code } }] }`), elsewhere
 * the REST routes' (`{ error: { code, message } }`).
 */
export function notFound(graphqlPath: string): RequestHandler {
  return (req, res) => answer(req, res, graphqlPath, 404, 'NOT_FOUND', `No route ${req.method} ${req.path}.`);
}

export function errorHandler(graphqlPath: string, logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const { status, code, message } = describe(error);
    if (status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    answer(req, res, graphqlPath, status, code, message);
  };
}

/** body-parser's and Express's errors carry `status` and `type`; anything else is a bug. */
function describe(error: unknown): { status: number; code: string; message: string } {
  const { status, type, limit } = (error ?? {}) as { status?: number; type?: string; limit?: number };
  if (type === 'entity.too.large') return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `The request body is larger than ${limit} bytes.` };
  if (type === 'entity.parse.failed') return { status: 400, code: 'BAD_REQUEST', message: 'The request body is not valid JSON.' };
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as UTF-8 JSON.' };
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: 'BAD_REQUEST', message: `The request could not be read (${(error as Error).message}).` };
  }
  return { status: 500, code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error.' };
}

function answer(req: Request, res: Response, graphqlPath: string, status: number, code: string, message: string): void {
  if (req.path === graphqlPath) res.status(status).json({ errors: [{ message, extensions: { code } }] });
  else sendError(res, status, code, message);
}
