import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestServer } from '../support/server.js';

/*
 * Behind a load balancer every request comes from its address: with TRUST_PROXY the per-address
 * limits count the client the proxy reports (X-Forwarded-For), over HTTP and WebSocket alike.
 * The tests' requests come from 127.0.0.1, which plays the load balancer here.
 */
const server = useTestServer({ GPU_CONCURRENCY: '0', TRUST_PROXY: 'loopback', RATE_LIMIT_AUTH_FAILURES: '2', RATE_LIMIT_WS_CONNECTS: '2' });

const badKey = (from: string, n: number) =>
  fetch(`${server().url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer easel_${'q'.repeat(40)}${n}`, 'x-forwarded-for': from },
    body: JSON.stringify({ query: '{ me { name } }' }),
  }).then(async (response) => ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code);

/** Opens a WebSocket as `from`; resolves with the upgrade's HTTP status (101 when it opened). */
function connect(from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server().url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-forwarded-for': from } });
    socket.once('upgrade', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('TRUST_PROXY: the client behind the load balancer', () => {
  it('gives each forwarded client its own budget of bad keys', async () => {
    const guesser = [await badKey('203.0.113.7', 1), await badKey('203.0.113.7', 2), await badKey('203.0.113.7', 3)];
    expect(guesser).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
    // Someone else behind the same load balancer is not blocked with the guesser.
    expect(await badKey('198.51.100.20', 1)).toBe('UNAUTHENTICATED');
    // The address nearest the API counts: what a client writes further left is not believed.
    expect(await badKey('203.0.113.7, 198.51.100.21', 2)).toBe('UNAUTHENTICATED');
    expect(await badKey('198.51.100.21, 203.0.113.7', 4)).toBe('RATE_LIMITED');
  });

  it('counts WebSocket connections per forwarded client', async () => {
    expect([await connect('192.0.2.1'), await connect('192.0.2.1'), await connect('192.0.2.1')]).toEqual([101, 101, 429]);
    expect(await connect('192.0.2.2')).toBe(101);
  });
});
