import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll } from 'vitest';
import type { User } from '../../src/accounts/accounts.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer, type ServerOverrides } from '../../src/server.js';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

export interface TestServer {
  server: RunningServer;
  url: string;
  modelsDir: string;
  admin: { user: User; key: string };
  /** POSTs one GraphQL operation, with `key` as the Bearer token when given. */
  graphql<T = Record<string, any>>(query: string, options?: { key?: string; variables?: Record<string, unknown> }): Promise<GraphQLResponse<T>>;
  /** A user made straight through the accounts service, with their key. */
  createUser(name: string, options?: { plan?: 'FREE' | 'PLUS'; role?: 'USER' | 'ADMIN' }): Promise<{ user: User; key: string }>;
}

/**
 * Starts the real server for the calling test file, on a free port: jongodb by default, or the
 * MongoDB at MONGODB_URI with a database of its own (dropped afterwards). `env` adds variables.
 */
export function useTestServer(env: Record<string, string> = {}, overrides: ServerOverrides = {}): () => TestServer {
  let testServer: TestServer | undefined;

  beforeAll(async () => {
    const modelsDir = await mkdtemp(path.join(os.tmpdir(), 'easel-models-'));
    const uri = process.env.MONGODB_URI;
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      MODELS_DIR: modelsDir,
      DATA_DIR: path.join(modelsDir, 'data'),
      MONGODB_URI: uri,
      ...env,
    });
    const server = await startServer(config, {
      embeddedDatabase: 'jongodb',
      dbName: uri ? `easel_test_${randomBytes(6).toString('hex')}` : undefined,
      ...overrides,
    });
    const createUser: TestServer['createUser'] = async (name, options = {}) => {
      const { user, key } = await server.services.accounts.createUser({ name, ...options });
      return { user, key };
    };
    testServer = {
      server,
      url: server.url,
      modelsDir,
      admin: await createUser('admin', { role: 'ADMIN' }),
      createUser,
      async graphql(query, { key, variables } = {}) {
        const response = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        return { status: response.status, ...((await response.json()) as object) };
      },
    };
  });

  afterAll(async () => {
    if (!testServer) return;
    const connected = mongoose.connection.readyState === mongoose.ConnectionStates.connected;
    if (testServer.server.database.kind === 'external' && connected) await mongoose.connection.dropDatabase();
    await testServer.server.close();
    await rm(testServer.modelsDir, { recursive: true, force: true });
    testServer = undefined;
  });

  return () => {
    if (!testServer) throw new Error('the test server starts in beforeAll');
    return testServer;
  };
}

/** The `extensions.code` of each error, for compact assertions. */
export const codes = (response: GraphQLResponse) => response.errors?.map((error) => error.extensions?.code) ?? [];
