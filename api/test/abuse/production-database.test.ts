import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runApiUntilExit } from '../support/processes.js';

// Defect 2 of issue 9: production started on a throwaway in-memory database.
describe('defect 2: production needs a real database', () => {
  it('refuses to start in production without MONGODB_URI, saying what to set', async () => {
    const { code, stderr } = await runApiUntilExit({ NODE_ENV: 'production', MONGODB_URI: undefined, ALLOW_MEMORY_DATABASE: undefined, PORT: '0', LOG_LEVEL: 'silent' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/MONGODB_URI: required in production/);
    expect(stderr).toMatch(/ALLOW_MEMORY_DATABASE=true/);
  });

  it('starts without one only when the operator opts in, or outside production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'production', ALLOW_MEMORY_DATABASE: 'true' }).allowMemoryDatabase).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.internal/easel' }).mongodbUri).toBe('mongodb://db.internal/easel');
    expect(loadConfig({ NODE_ENV: 'development' }).mongodbUri).toBeUndefined();
    expect(() => loadConfig({ NODE_ENV: 'production', ALLOW_MEMORY_DATABASE: 'yes please' })).toThrow(/ALLOW_MEMORY_DATABASE: must be true or false/);
  });
});
