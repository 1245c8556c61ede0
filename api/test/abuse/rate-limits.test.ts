import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GenerationModel } from '../../src/generations/generation.js';
import { balanceOf, generate, installModel } from '../generations/support.js';
import { codes, useTestServer } from '../support/server.js';

// Defect 4 of issue 9: no rate limits anywhere. Small limits here, so that short bursts cross them.
const LIMITS = { RATE_LIMIT_GENERATE: '3', RATE_LIMIT_ANALYZE: '5', RATE_LIMIT_UPLOADS: '2', RATE_LIMIT_AUTH_FAILURES: '4', RATE_LIMIT_WS_CONNECTS: '3' };
const server = useTestServer({ GPU_CONCURRENCY: '0', ...LIMITS });

beforeAll(() => installModel(server(), 'tiny-sd15'));

describe('defect 4: rate limits', () => {
  it('limits analyzePrompt and generateImage per user, with RATE_LIMITED and retryAfter, charging nothing past the limit', async () => {
    const { key } = await server().createUser('burster');
    const other = await server().createUser('neighbour');
    const analyze = () => server().graphql('{ analyzePrompt(modelId: "tiny-sd15", prompt: "a cat") { prompt { tokenCount } } }', { key });
    const answers = await Promise.all(Array.from({ length: 8 }, analyze));
    expect(answers.filter((answer) => answer.errors === undefined)).toHaveLength(5);
    const refused = answers.filter((answer) => codes(answer)[0] === 'RATE_LIMITED');
    expect(refused).toHaveLength(3);
    expect(refused[0].status).toBe(429);
    expect(refused[0].errors![0].extensions).toMatchObject({ retryAfter: expect.any(Number) });
    expect(refused[0].errors![0].extensions!.retryAfter).toBeGreaterThan(0);
    expect(refused[0].errors![0].extensions!.retryAfter).toBeLessThanOrEqual(60);

    const before = await balanceOf(server(), key);
    const generations = await Promise.all(Array.from({ length: 5 }, (_, i) => generate(server(), key, { modelId: 'tiny-sd15', prompt: `cat ${i}` })));
    expect(generations.map((answer) => codes(answer)[0] ?? 'OK').sort()).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(await balanceOf(server(), key)).toBe(before - 3);
    // Another user's budget is their own.
    expect(codes(await generate(server(), other.key, { modelId: 'tiny-sd15', prompt: 'mine' }))).toEqual([]);
    expect(await GenerationModel.countDocuments()).toBe(4);
  });

  it('refuses an address that keeps sending bad keys, even once it sends a good one, until its minute is over', async () => {
    const { key } = await server().createUser('guessed');
    const answers = [];
    for (let attempt = 0; attempt < 6; attempt++) answers.push(await server().graphql('{ me { name } }', { key: `easel_${'g'.repeat(40)}${attempt}` }));
    expect(answers.map((answer) => codes(answer)[0])).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(answers[5].status).toBe(429);
    expect(codes(await server().graphql('{ me { name } }', { key }))).toEqual(['RATE_LIMITED']);
    // Without TRUST_PROXY, a forwarded-for header is not believed: the socket's address is the client.
    const spoofed = await fetch(`${server().url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ query: '{ me { name } }' }),
    });
    expect(spoofed.status).toBe(429);
    const upload = await fetch(`${server().url}/uploads`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' }, body: 'x' });
    expect(upload.status).toBe(429);
    expect(Number(upload.headers.get('retry-after'))).toBeGreaterThan(0);
    // Unblocked for the next tests: the budget is per address, and every test here comes from 127.0.0.1.
    await server().server.services.rateLimits.reset('authFailures', '127.0.0.1');
  });

  it('limits uploads per user with 429 and Retry-After', async () => {
    const { key } = await server().createUser('uploader');
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
    const statuses = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await fetch(`${server().url}/uploads`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' }, body: png });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await response.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/limit is 2 a minute/) } });
      }
    }
    expect(statuses).toEqual([201, 201, 429]);
  });

  it('limits WebSocket connections per address, refusing the upgrade with 429', async () => {
    const { key } = await server().createUser('connector');
    const outcomes: (number | 'open')[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const socket = new WebSocket(server().url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: { authorization: `Bearer ${key}` } });
      outcomes.push(
        await new Promise<number | 'open'>((resolve) => {
          socket.once('open', () => resolve('open'));
          socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
          socket.once('error', () => {});
        }),
      );
      socket.terminate();
    }
    expect(outcomes).toEqual(['open', 'open', 'open', 429]);
  });
});
