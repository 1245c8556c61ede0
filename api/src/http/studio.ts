import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** Where `npm run build` (scripts/build-studio.ts) writes Easel Studio: api/studio/dist, seen from api/src/http or api/dist/http alike. */
const STUDIO_DIST = fileURLToPath(new URL('../../studio/dist', import.meta.url));

/** The built page, when there is one. */
export function findStudio(): string | null {
  return existsSync(path.join(STUDIO_DIST, 'index.html')) ? STUDIO_DIST : null;
}

/**
 * The page's own policy: its script and stylesheet are files from here (no inline code, no eval),
 * images are from here or data: URLs (step previews), and it talks only to this server.
 */
export const STUDIO_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Easel Studio at `/`: its page and its hashed assets (cached for good: a new build has new
 * names). Unbuilt, `/` says how to build it rather than answering 404.
 */
export function studioRoutes(dir: string | null = findStudio()): Router {
  const router = Router();
  if (!dir) {
    router.get('/', (_req, res) => {
      res.status(503).type('text/plain').send('Easel Studio is not built: run `npm run build` (npm start and npm test build it).\nGraphiQL is at /graphql.\n');
    });
    return router;
  }
  router.use('/assets', express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '1y', index: false, fallthrough: false }));
  router.get('/', (_req, res) => {
    // The page names the current assets: always ask again.
    res.set({ 'cache-control': 'no-cache', 'content-security-policy': STUDIO_CSP }).sendFile(path.join(dir, 'index.html'));
  });
  return router;
}
