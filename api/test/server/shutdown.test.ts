import { request } from 'node:http';
import mongoose from 'mongoose';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

const server = useTestServer();

/** Sends a GraphQL POST whose body arrives in two parts, so the request is in flight between them. */
function slowRequest(url: string, body: string) {
  const req = request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { finish: () => req.end(body.slice(half)), response };
}

describe('graceful shutdown', () => {
  it('finishes the request in flight, then stops accepting and closes the database', async () => {
    const { url } = server();
    // The support helper cannot drop a database it is no longer connected to; do it first.
    if (server().server.database.kind === 'external') await mongoose.connection.dropDatabase();
    const inFlight = slowRequest(url, JSON.stringify({ query: '{ samplers { label } }' }));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const closing = server().server.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    inFlight.finish();
    const answer = await inFlight.response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).data.samplers.length).toBeGreaterThan(0);

    await closing;
    expect(mongoose.connection.readyState).toBe(mongoose.ConnectionStates.disconnected);
  });
});
