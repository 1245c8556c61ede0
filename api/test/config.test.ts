import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENVIRONMENT, loadConfig } from '../src/config.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

describe('loadConfig', () => {
  it('fills in the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      isProduction: false,
      port: 4000,
      mongodbUri: undefined,
      dataDir: './data',
      modelsDir: './models',
      logLevel: 'info',
      dailyTokens: { FREE: 20, PLUS: 200 },
    });
  });

  it('reads and converts the values given, treating empty ones as unset', () => {
    const config = loadConfig({
      PORT: '8080',
      NODE_ENV: 'production',
      FREE_DAILY_TOKENS: '5',
      PLUS_DAILY_TOKENS: '',
      MONGODB_URI: 'mongodb://db.internal:27017/easel',
      PUBLIC_URL: 'https://easel.example.com/',
    });
    expect(config.port).toBe(8080);
    expect(config.isProduction).toBe(true);
    expect(config.dailyTokens).toEqual({ FREE: 5, PLUS: 200 });
    expect(config.mongodbUri).toBe('mongodb://db.internal:27017/easel');
    expect(config.publicUrl).toBe('https://easel.example.com');
  });

  it('reads TRUST_PROXY as Express does: none, hops, or proxy addresses; refuses what is none of them', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback' }).trustProxy).toEqual(['10.0.0.0/8', 'loopback']);
    expect(() => loadConfig({ TRUST_PROXY: 'the-load-balancer' })).toThrow(/TRUST_PROXY: invalid IP address: the-load-balancer/);
  });

  it('takes retired webhook secret keys only beside a current one, and never echoes them', () => {
    expect(loadConfig({ WEBHOOK_SECRETS_KEY: 'n'.repeat(32), WEBHOOK_SECRETS_PREVIOUS_KEYS: `${'a'.repeat(32)}, ${'b'.repeat(32)}` }).webhookSecretsPreviousKeys).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
    expect(() => loadConfig({ WEBHOOK_SECRETS_PREVIOUS_KEYS: 'a'.repeat(32) })).toThrow(/set WEBHOOK_SECRETS_KEY too/);
    expect(() => loadConfig({ WEBHOOK_SECRETS_KEY: 'n'.repeat(32), WEBHOOK_SECRETS_PREVIOUS_KEYS: 'too-short-secret' })).toThrow(/^(?![\s\S]*too-short-secret)[\s\S]*WEBHOOK_SECRETS_PREVIOUS_KEYS: must be comma-separated keys/);
  });

  it('names every bad variable in one clear error, without echoing secrets', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', MONGODB_URI: 'postgres://user:hunter2@db', DEV_API_KEY: 'short' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/PORT: .*\(got "eighty"\)/);
    expect(message).toMatch(/LOG_LEVEL: /);
    expect(message).toMatch(/MONGODB_URI: must start with mongodb:\/\//);
    expect(message).toMatch(/DEV_API_KEY: must look like easel_/);
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('"short"');
  });

  it('is documented: the README table lists every variable', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    for (const name of Object.keys(ENVIRONMENT.shape)) {
      expect(readme, `README lacks ${name}`).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
    }
  });
});
