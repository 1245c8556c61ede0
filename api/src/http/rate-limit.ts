import type { Request, RequestHandler, Response } from 'express';
import { RateLimitedError, type RateLimitKind, type RateLimits } from '../rate-limits/rate-limits.js';
import { sendTooMany } from './require-user.js';

/** For REST routes: counts the request against `kind`'s budget for `keyOf`; over it, 429 with Retry-After. */
export function rateLimit(rateLimits: RateLimits, kind: RateLimitKind, keyOf: (req: Request, res: Response) => string): RequestHandler {
  return (req, res, next) => {
    rateLimits.consume(kind, keyOf(req, res)).then(
      () => next(),
      (error: unknown) => {
        if (!(error instanceof RateLimitedError)) return next(error);
        sendTooMany(res, error);
      },
    );
  };
}
