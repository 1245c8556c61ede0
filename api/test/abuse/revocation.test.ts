import { createClient, type Client } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Accounts } from '../../src/accounts/accounts.js';
import { generate, installModel } from '../generations/support.js';
import { useTestServer } from '../support/server.js';

// Defect 1 of issue 9: a revoked key kept streaming on its open WebSocket.
// Sockets' keys are checked against the database every 0.3 s here (60 s by default).
const server = useTestServer({ GPU_CONCURRENCY: '0', WS_ACCESS_RECHECK_SECONDS: '0.3' });

beforeAll(() => installModel(server(), 'tiny-sd15'));

interface Watcher {
  client: Client;
  prompts: string[];
  /** Resolves with the close code once the server closes the socket. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once the subscription is live (the server acknowledged the connection). */
  connected: Promise<void>;
}

/** A socket authenticated with `key`, following the caller's generations. */
function watch(key: string): Watcher {
  let onClosed!: (event: { code: number; reason: string }) => void;
  let onConnected!: () => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: server().url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${key}` },
    retryAttempts: 0,
    on: { connected: () => onConnected(), closed: (event) => onClosed(event as { code: number; reason: string }) },
  });
  const prompts: string[] = [];
  client.subscribe<{ myGenerations: { prompt: string } }>(
    { query: 'subscription { myGenerations { prompt } }' },
    { next: ({ data }) => prompts.push(data!.myGenerations.prompt), error: () => {}, complete: () => {} },
  );
  return { client, prompts, closed, connected };
}

describe('defect 1: revocation takes effect at once', () => {
  it("closes a revoked key's socket with 4401 and sends it nothing more, while the user's other key streams on", async () => {
    const { key } = await server().createUser('leaky');
    const spare = (await server().graphql('mutation { createApiKey(label: "leaked") { key apiKey { id } } }', { key })).data!.createApiKey;
    const leaked = watch(spare.key);
    const kept = watch(key);
    await Promise.all([leaked.connected, kept.connected]);
    // Both are live once an update of the user's reaches both.
    await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'before' });
    await expect.poll(() => leaked.prompts.length + kept.prompts.length).toBe(2);

    await server().graphql(`mutation { revokeApiKey(id: "${spare.apiKey.id}") { revokedAt } }`, { key });
    expect(await leaked.closed).toEqual(expect.objectContaining({ code: 4401, reason: 'API key revoked' }));

    await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a secret prompt' });
    await expect.poll(() => kept.prompts).toEqual(['before', 'a secret prompt']);
    expect(leaked.prompts).toEqual(['before']);
    await Promise.all([leaked.client.dispose(), kept.client.dispose()]);
  });

  it("closes a user's sockets with 4403 when an admin changes their role or plan", async () => {
    const { user, key } = await server().createUser('promoted');
    for (const change of [`setRole(userId: "${user.id}", role: ADMIN) { role }`, `setPlan(userId: "${user.id}", plan: PLUS) { plan }`]) {
      const socket = watch(key);
      await socket.connected;
      await server().graphql(`mutation { ${change} }`, { key: server().admin.key });
      expect(await socket.closed).toEqual(expect.objectContaining({ code: 4403, reason: expect.stringMatching(/^Access changed/) }));
      await socket.client.dispose();
    }
  });

  it('closes sockets whose key or user was changed where the event bus does not reach (the admin command line), at the next check', async () => {
    // As `npm run admin` does it: its own Accounts, publishing to no bus.
    const cli = new Accounts();
    const { user, key } = await server().createUser('cli-revoked');
    const spare = (await server().graphql('mutation { createApiKey(label: "spare") { key apiKey { id } } }', { key })).data!.createApiKey;
    const [revoked, kept] = [watch(spare.key), watch(key)];
    await Promise.all([revoked.connected, kept.connected]);
    await cli.revokeApiKey(spare.apiKey.id);
    expect(await revoked.closed).toEqual(expect.objectContaining({ code: 4401, reason: 'API key revoked' }));

    await cli.setPlan(user.id, 'PLUS');
    expect(await kept.closed).toEqual(expect.objectContaining({ code: 4403, reason: 'Access changed (plan): reconnect' }));
    // Reconnected under the new plan, it stays open across checks.
    const again = watch(key);
    await again.connected;
    const stillOpen = await Promise.race([again.closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 1_000))]);
    expect(stillOpen).toBe(true);
    await Promise.all([revoked.client.dispose(), kept.client.dispose(), again.client.dispose()]);
  });

  it('refuses a WebSocket without a valid key at connect, before any operation', async () => {
    for (const key of ['', 'easel_' + 'x'.repeat(43)]) {
      const socket = watch(key);
      expect((await socket.closed).code).toBe(4403);
      expect(socket.prompts).toEqual([]);
      await socket.client.dispose();
    }
  });
});
