import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { useTestServer } from '../support/server.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});
const server = useTestServer({}, { logger: createLogger({ logLevel: 'trace', isProduction: false }, sink) });

describe('logs', () => {
  it('record each request as structured JSON, and never an API key', async () => {
    const { key } = server().admin;
    const wrongKey = 'easel_' + 'Z'.repeat(43);
    await server().graphql('{ me { name } }', { key });
    await server().graphql('{ me { name } }', { key: wrongKey });
    await server().graphql('mutation { createUser(input: { name: "logged" }) { key } }', { key });
    await new Promise((resolve) => setTimeout(resolve, 50));

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'request', method: 'POST', path: '/graphql', status: 200 }));
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'request', path: '/graphql', status: 401 }));
    const everything = lines.join('\n');
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(wrongKey);
    expect(everything).not.toMatch(/easel_[A-Za-z0-9_-]{20,}/);
  });

  it('redact credentials wherever an object carries them', () => {
    const captured: string[] = [];
    const logger = createLogger(
      { logLevel: 'info', isProduction: true },
      new Writable({ write: (chunk: Buffer, _encoding, done) => (captured.push(chunk.toString()), done()) }),
    );
    logger.info({ authorization: 'Bearer easel_one', req: { headers: { authorization: 'Bearer easel_two' } }, user: { key: 'easel_three' }, secret: 's3' }, 'x');
    const entry = JSON.parse(captured[0]) as Record<string, any>;
    expect(entry.authorization).toBe('[redacted]');
    expect(entry.req.headers.authorization).toBe('[redacted]');
    expect(entry.user.key).toBe('[redacted]');
    expect(entry.secret).toBe('[redacted]');
  });
});
