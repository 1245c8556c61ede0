import { createHash } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GenerationModel } from '../../src/generations/generation.js';
import { balanceOf, generate, installModel } from '../generations/support.js';
import { codes, useTestServer } from '../support/server.js';

// Defects 3, 7, 8 and 9 of issue 9, each tried as an attacker would, on the real server with
// its default limits. GPU_CONCURRENCY=0: generations stay QUEUED, nothing runs.
const server = useTestServer({ GPU_CONCURRENCY: '0' });

beforeAll(() => installModel(server(), 'tiny-sd15'));

const LONG_PROMPT = 'a lighthouse at dusk, (oil painting:1.2), '.repeat(250).slice(0, 10_000);
const aliased = (count: number, field: (i: number) => string) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`;
const analyze = () => `analyzePrompt(modelId: "tiny-sd15", prompt: ${JSON.stringify(LONG_PROMPT)}) { prompt { tokenCount } }`;

function expectTooComplex(response: { errors?: { message: string; extensions?: Record<string, unknown> }[] }, limit: string) {
  expect(codes(response as never)).toEqual(['QUERY_TOO_COMPLEX']);
  expect(response.errors![0].extensions).toMatchObject({ limit, max: expect.any(Number), actual: expect.any(Number) });
  expect(response.errors![0].message).toMatch(new RegExp(`${limit} is \\d+, the limit is \\d+`));
}

describe('defect 3: one request cannot freeze the server', () => {
  it('refuses too many aliases, too deep, too many tokens and over the cost budget, before any resolver runs', async () => {
    const { key } = await server().createUser('freezer');
    // The request: 100 aliased analyzePrompt fields with 10,000-character prompts.
    const aliases = await server().graphql(aliased(100, analyze), { key });
    expect(aliases.status).toBe(400);
    expectTooComplex(aliases, 'aliases');
    expectTooComplex(await server().graphql(aliased(200, () => 'models { slug }')), 'aliases');
    // 1,000 of them are refused while parsing, before the document is even built.
    expectTooComplex(await server().graphql(aliased(1000, () => 'models { slug }')), 'tokens');

    // The schema has no cycles; type introspection nests as deep as one likes.
    const ofType = (levels: number): string => (levels === 0 ? 'name' : `ofType { ${ofType(levels - 1)} }`);
    expect((await server().graphql(`{ __type(name: "Query") { fields { type { ${ofType(6)} } } } }`)).errors).toBeUndefined();
    expectTooComplex(await server().graphql(`{ __type(name: "Query") { fields { type { ${ofType(20)} } } } }`), 'depth');

    const tokens = `{ ${Array.from({ length: 2000 }, () => 'samplers { label }').join(' ')} }`;
    expectTooComplex(await server().graphql(tokens), 'tokens');

    // Within the alias limit, 20 full pages of generations are far over the cost budget...
    const pages = aliased(20, () => 'generations(first: 100) { edges { node { id images { url } model { id } } } }');
    expectTooComplex(await server().graphql(pages, { key }), 'cost');
    // ... and so is one page sized by a variable.
    const page = 'query ($n: Int!) { a: generations(first: $n) { edges { node { id } } } b: models { slug } }';
    expect((await server().graphql(page, { key, variables: { n: 100 } })).errors).toBeUndefined();
    expect(await GenerationModel.countDocuments()).toBe(0);
  });

  it('applies the same limits over graphql-ws', async () => {
    const { key } = await server().createUser('socketeer');
    const client = createClient({
      url: server().url.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${key}` },
      retryAttempts: 0,
    });
    const run = (query: string) =>
      new Promise<{ extensions: Record<string, unknown> }[]>((resolve, reject) => {
        client.subscribe({ query }, { next: (result) => reject(new Error(`ran: ${JSON.stringify(result).slice(0, 200)}`)), error: (errors) => resolve(errors as never), complete: () => reject(new Error('completed')) });
      });
    try {
      const aliases = await run(aliased(100, analyze));
      expect(aliases.map((error) => error.extensions.code)).toEqual(['QUERY_TOO_COMPLEX']);
      expect(aliases[0].extensions).toMatchObject({ limit: 'aliases', max: 30, actual: 100 });
      const cost = await run(aliased(20, () => 'generations(first: 100) { edges { node { id images { url } } } }'));
      expect(cost[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
      const tokens = await run(`{ ${Array.from({ length: 2000 }, () => 'samplers { label }').join(' ')} }`);
      expect(tokens[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'tokens' });
    } finally {
      await client.dispose();
    }
  });
});

describe('defect 7: one error shape everywhere', () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${server().url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('answers malformed JSON, an over-size body and an unknown route with JSON and a code, never HTML', async () => {
    const malformed = await post('{"query": "{ samplers { label } }"');
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/application\/json/);
    expect(await malformed.json()).toEqual({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });

    const huge = await post(JSON.stringify({ query: `{ samplers { label } } # ${'x'.repeat(1024 * 1024)}` }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ errors: [{ message: expect.stringMatching(/larger than \d+ bytes/), extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });

    const unknown = await fetch(`${server().url}/no/such/route`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /no/such/route.' } });
  });

  it('answers a persisted query whose hash does not match with BAD_REQUEST, an unknown hash with PERSISTED_QUERY_NOT_FOUND', async () => {
    const query = '{ samplers { label } }';
    const persisted = (sha256Hash: string, withQuery: boolean) =>
      post(JSON.stringify({ ...(withQuery ? { query } : {}), extensions: { persistedQuery: { version: 1, sha256Hash } } }));
    const mismatch = await persisted('0'.repeat(64), true);
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code)).toEqual(['BAD_REQUEST']);
    const unknown = await persisted('1'.repeat(64), false);
    expect(((await unknown.json()) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const right = await persisted(createHash('sha256').update(query).digest('hex'), true);
    expect(((await right.json()) as { data: unknown }).data).toEqual({ samplers: expect.any(Array) });
  });

  it('sends security headers on every response, and GraphiQL a CSP whose nonce allows only its own inline scripts', async () => {
    for (const response of [await fetch(`${server().url}/healthz`), await post('{'), await fetch(`${server().url}/nowhere`)]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
      expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    }
    const page = await fetch(`${server().url}/graphql`, { headers: { accept: 'text/html' } });
    const csp = page.headers.get('content-security-policy')!;
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    const html = await page.text();
    const scripts = html.match(/<script\b[^>]*>/g)!;
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    // The in-memory database says so in the example query.
    expect(html).toMatch(/database is in memory/);
  });
});

describe('defect 8: browser frontends can call the API', () => {
  const preflight = (origin: string) =>
    fetch(`${server().url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers a preflight from a localhost origin in development, and gives no grant to any other origin', async () => {
    const local = await preflight('http://localhost:5173');
    expect(local.status).toBe(204);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(local.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const foreign = await preflight('https://evil.example');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();

    const { key } = await server().createUser('frontend');
    const call = await fetch(`${server().url}/graphql`, {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1:3000', 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ me { name } }' }),
    });
    expect(call.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3000');
    expect(await call.json()).toEqual({ data: { me: { name: 'frontend' } } });
  });
});

describe('defect 9: input slips that cost tokens', () => {
  it('refuses prompts with nothing to draw and lone surrogates before charging, and strips control characters', async () => {
    const { key } = await server().createUser('slipper');
    const before = await balanceOf(server(), key);
    for (const prompt of ['   ', '\u0000\u0000\u0000', '\u200B\u200B\u200B', ' \u200B\t\n\uFEFF ']) {
      const response = await generate(server(), key, { modelId: 'tiny-sd15', prompt });
      expect(codes(response), JSON.stringify(prompt)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0].message).toMatch(/prompt is empty once whitespace/);
    }
    const surrogate = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a cat \uD83D on a mat' });
    expect(codes(surrogate)).toEqual(['BAD_USER_INPUT']);
    expect(surrogate.errors![0].message).toMatch(/lone surrogate \(U\+D83D\) at offset 6/);
    expect(await balanceOf(server(), key)).toBe(before);
    expect(await GenerationModel.countDocuments({ prompt: /^\s*$/ })).toBe(0);

    const stored = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a cat\u0000 on\u001b[31m a mat\n\twith 🐱', enhancePrompt: false });
    expect(stored.data!.generateImage.prompt).toBe('a cat on[31m a mat\n\twith 🐱');
    expect(await balanceOf(server(), key)).toBe(before - 1);
  });

  it('answers CONFLICT naming the key when a clientRequestId comes back with other parameters', async () => {
    const { key } = await server().createUser('reuser');
    const first = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a red fox', clientRequestId: 'order-7' });
    const same = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a red fox', clientRequestId: 'order-7' });
    expect(same.data!.generateImage.id).toBe(first.data!.generateImage.id);
    const other = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a blue fox', clientRequestId: 'order-7' });
    expect(codes(other)).toEqual(['CONFLICT']);
    expect(other.errors![0].message).toMatch(/clientRequestId "order-7" was already used .* with other parameters/);
    expect(await GenerationModel.countDocuments({ clientRequestId: 'order-7' })).toBe(1);
  });
});
