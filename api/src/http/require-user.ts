import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Accounts, User } from '../accounts/accounts.js';
import { bearerKey } from '../accounts/api-key-format.js';

/** The JSON body of every error a plain HTTP endpoint answers, with the same codes as GraphQL. */
export interface HttpErrorBody {
  error: { code: string; message: string };
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } } satisfies HttpErrorBody);
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
export function requireUser(accounts: Accounts): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = bearerKey(req.headers.authorization);
    const user = key ? await accounts.authenticate(key) : undefined;
    if (!user) {
      res.setHeader('www-authenticate', 'Bearer');
      sendError(res, 401, 'UNAUTHENTICATED', 'Send a valid API key: "Authorization: Bearer easel_…".');
      return;
    }
    (res.locals as UserLocals).user = user;
    next();
  };
}
