import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { User } from '../accounts/accounts.js';
import { bearerKey } from '../accounts/api-key-format.js';
import { authenticateFrom } from '../rate-limits/authenticate.js';
import { RateLimitedError } from '../rate-limits/rate-limits.js';
import type { Services } from '../services.js';

/** The JSON body of every error a plain HTTP endpoint answers, with the same codes as GraphQL. */
export interface HttpErrorBody {
  error: { code: string; message: string };
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } } satisfies HttpErrorBody);
}

/** Over a rate limit: 429 with Retry-After. */
export function sendTooMany(res: Response, error: RateLimitedError): void {
  res.setHeader('retry-after', String(error.retryAfterSeconds));
  sendError(res, 429, 'RATE_LIMITED', error.message);
}

/** What requireUser leaves in `res.locals`. */
export interface UserLocals {
  user: User;
}

/**
 * For plain HTTP endpoints (uploads, images): the caller's API key, as GraphQL takes it
 * ("Authorization: Bearer easel_…"). No key or a bad one: 401 with a JSON error, before any body
 * is read.
 */
export function requireUser(services: Pick<Services, 'accounts' | 'rateLimits' | 'clientAddress'>): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    let user: User | undefined;
    try {
      user = await authenticateFrom(services.clientAddress(req), bearerKey(req.headers.authorization), services);
    } catch (error) {
      if (!(error instanceof RateLimitedError)) return next(error);
      return sendTooMany(res, error);
    }
    if (!user) {
      res.setHeader('www-authenticate', 'Bearer');
      sendError(res, 401, 'UNAUTHENTICATED', 'Send a valid API key: "Authorization: Bearer easel_…".');
      return;
    }
    (res.locals as UserLocals).user = user;
    next();
  };
}
