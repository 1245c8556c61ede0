import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ruruHTML, type RuruClientConfig } from 'ruru/server';
import { serveStatic } from 'ruru/static';
import { BASE_CSP, cspHeader } from './security.js';

/** Where GraphiQL's scripts and styles are served from: this server, never a CDN. */
export const GRAPHIQL_STATIC_PATH = '/ruru-static/';

const MEMORY_ONLY_NOTE = `# This server's database is in memory: users, keys and balances are lost
# when it stops. Set MONGODB_URI to keep them.

`;

const EXAMPLE_QUERY = `# Put your API key in the Headers tab below:
#   { "Authorization": "Bearer easel_…" }
# (npm start prints the dev user's key.)

query Start {
  me {
    name
    plan
    role
    tokens { balance daily bonus dailyAllowance resetsAt }
  }
  models(tier: EASY) {
    slug
    name
    family
    installed
    defaults { width height steps cfgScale sampler }
  }
  samplers { label recommended }
}
`;

/** GraphiQL's static files (JS, CSS, workers), bundled in the ruru package. */
export const graphiqlAssets = serveStatic(GRAPHIQL_STATIC_PATH);

/**
 * Serves GraphiQL (ruru) to a browser that opens the GraphQL endpoint; other GET requests
 * (GraphQL over GET) go on to the GraphQL server.
 */
export function graphiqlPage(options: { endpoint: string; publicUrl: string | undefined; memoryOnly: boolean }): RequestHandler {
  const defaultQuery = (options.memoryOnly ? MEMORY_ONLY_NOTE : '') + EXAMPLE_QUERY;
  return (req, res, next) => {
    if (req.query.query !== undefined || req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
    const base = options.publicUrl ?? `${req.protocol}://${req.get('host')}`;
    const html = ruruHTML({
      staticPath: GRAPHIQL_STATIC_PATH,
      endpoint: options.endpoint,
      subscriptionEndpoint: websocketUrl(base, options.endpoint),
      clientConfig: {
        defaultQuery,
        // Only when the browser has no headers stored, so a key typed once survives reloads.
        defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
        isHeadersEditorEnabled: true,
        // ruru's typings require every GraphiQL prop; the page fills the others with defaults.
      } as Partial<RuruClientConfig> as RuruClientConfig,
    });
    // ruru bootstraps with two inline scripts: allowed by a nonce for this response only.
    const nonce = randomBytes(16).toString('base64');
    res.setHeader('content-security-policy', cspHeader({ ...BASE_CSP, 'script-src': [...BASE_CSP['script-src'], `'nonce-${nonce}'`] }));
    res.type('html').send(html.replace(/<script(?=[\s>])/g, `<script nonce="${nonce}"`));
  };
}

function websocketUrl(base: string, endpoint: string): string {
  const url = new URL(endpoint, base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

