import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestServer } from '../support/server.js';

const server = useTestServer();
const repoRoot = path.resolve(import.meta.dirname, '../../..');
const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

describe('GET /healthz', () => {
  it('reports the database, the event bus and the version', async () => {
    const response = await fetch(`${server().url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      // The tests' jongodb keeps everything in memory.
      database: { kind: server().server.database.kind, connected: true, persistent: false },
      events: { kind: 'in-process', connected: true },
      version,
    });
  });
});

describe('GraphiQL', () => {
  it('is served to browsers at /graphql, with every asset from this server', async () => {
    const response = await fetch(`${server().url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toContain('ruru-root');
    const wsUrl = server().url.replace('http://', 'ws://') + '/graphql';
    expect(html).toContain(JSON.stringify(wsUrl));

    // No CDN: every script, stylesheet and preload points at this server.
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"|from "([^"]+)"/g)].map((m) => m[1] ?? m[2]);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(reference, reference).toMatch(/^\/ruru-static\//);
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn\./);

    for (const reference of references) {
      const asset = await fetch(server().url + reference);
      expect(asset.status, reference).toBe(200);
    }
  });

  it('leaves GraphQL over GET to the GraphQL server', async () => {
    const response = await fetch(`${server().url}/graphql?query=${encodeURIComponent('{ samplers { label } }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { samplers: unknown[] } };
    expect(body.data.samplers.length).toBeGreaterThan(0);
  });
});

describe('subscriptions over WebSocket', () => {
  const connect = (authorization?: string): Client =>
    createClient({
      url: server().url.replace('http://', 'ws://') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: authorization ? { Authorization: authorization } : {},
      retryAttempts: 0,
      lazy: true,
    });

  const collect = (client: Client, query: string) =>
    new Promise<{ results: unknown[]; error?: unknown }>((resolve) => {
      const results: unknown[] = [];
      client.subscribe(
        { query },
        {
          next: (result) => results.push(result),
          error: (error) => resolve({ results, error }),
          complete: () => resolve({ results }),
        },
      );
    });

  it('runs a subscription for a caller who sent their key in connectionParams', async () => {
    const client = connect(`Bearer ${server().admin.key}`);
    try {
      const { results, error } = await collect(client, 'subscription { heartbeat(intervalMs: 50, count: 3) { beat at } }');
      expect(error).toBeUndefined();
      expect(results.map((r) => (r as { data: { heartbeat: { beat: number } } }).data.heartbeat.beat)).toEqual([1, 2, 3]);
    } finally {
      await client.dispose();
    }
  });

  it('serves queries over the socket with the same authentication', async () => {
    const client = connect(`Bearer ${server().admin.key}`);
    try {
      const { results } = await collect(client, '{ me { name role } }');
      expect(results).toEqual([{ data: { me: { name: 'admin', role: 'ADMIN' } } }]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses the connection without a key', async () => {
    const client = connect();
    try {
      const { results, error } = await collect(client, 'subscription { heartbeat(intervalMs: 50, count: 1) { beat } }');
      expect(results).toEqual([]);
      expect((error as { code?: number }).code).toBe(4403);
    } finally {
      await client.dispose();
    }
  });

  it('refuses the connection for an unknown key', async () => {
    const client = connect('Bearer easel_' + 'x'.repeat(43));
    try {
      const { error } = await collect(client, 'subscription { heartbeat(count: 1) { beat } }');
      expect((error as { code?: number }).code).toBe(4403);
    } finally {
      await client.dispose();
    }
  });
});
