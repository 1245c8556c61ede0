import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config.js';

/**
 * Security headers on every response (helmet): no MIME sniffing, no framing, no referrer sent
 * across origins, and a CSP that allows this origin's scripts only. Pages that need inline code
 * (GraphiQL's bootstrap) set their own CSP with a nonce (graphiql.ts); a Studio page built with
 * same-origin scripts works under this one.
 */
export function securityHeaders(config: Pick<Config, 'isProduction'>): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: BASE_CSP,
    },
    // Images and previews are fetched by other origins' <img> tags (signed links).
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    // HSTS only where HTTPS is what clients use; on http://localhost it would pin a browser to https.
    strictTransportSecurity: config.isProduction ? { maxAge: 15552000, includeSubDomains: true } : false,
  });
}

/** The CSP directives every page gets; GraphiQL adds a nonce to script-src. */
export const BASE_CSP: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'", 'ws:', 'wss:'],
  'worker-src': ["'self'", 'blob:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export function cspHeader(directives: Record<string, string[]>): string {
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

/** Any port of localhost: what development frontends (Vite, Next) run on. */
const LOCALHOST_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * CORS for browser frontends: CORS_ORIGINS lists the allowed origins (or `*`); unset, none in
 * production and localhost ones in development. Keys travel in the Authorization header, never
 * in cookies; credentials are allowed only for listed origins, never with `*`.
 */
export function corsPolicy(config: Pick<Config, 'isProduction' | 'corsOrigins'>): RequestHandler {
  const { corsOrigins } = config;
  const allowed = (origin: string) =>
    corsOrigins === '*' || (corsOrigins ?? []).includes(origin) || (!config.isProduction && corsOrigins === undefined && LOCALHOST_ORIGIN.test(origin));
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed(origin) ? (corsOrigins === '*' ? '*' : origin) : false),
    credentials: corsOrigins !== '*',
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name'],
    exposedHeaders: ['retry-after', 'location'],
    maxAge: 600,
  });
}
