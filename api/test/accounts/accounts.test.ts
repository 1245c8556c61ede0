import { beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../src/accounts/accounts.js';
import { generateApiKey, hashApiKey } from '../../src/accounts/api-key-format.js';
import { ApiKeyModel } from '../../src/accounts/api-key.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../../src/errors.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';

useTestDatabase();
const accounts = new Accounts();
beforeEach(clearDatabase);

describe('Accounts', () => {
  it('creates a user whose key authenticates them, storing only a hash of it', async () => {
    const { user, key, apiKey } = await accounts.createUser({ name: 'alice', plan: 'PLUS' });
    expect(user).toMatchObject({ name: 'alice', plan: 'PLUS', role: 'USER' });
    expect(await accounts.authenticate(key)).toEqual(user);

    const stored = await ApiKeyModel.findById(apiKey.id).lean();
    expect(stored?.hash).toBe(hashApiKey(key));
    expect(JSON.stringify(stored)).not.toContain(key);
  });

  it('refuses a second user of the same name (unique index)', async () => {
    await accounts.createUser({ name: 'bob' });
    await expect(accounts.createUser({ name: 'bob' })).rejects.toThrow(ConflictError);
    expect(await accounts.listUsers()).toHaveLength(1);
  });

  it('rejects unknown keys and unknown plans', async () => {
    expect(await accounts.authenticate(generateApiKey())).toBeUndefined();
    expect(await accounts.authenticate('not-a-key')).toBeUndefined();
    await expect(accounts.createUser({ name: 'carol', plan: 'GOLD' as never })).rejects.toThrow(InvalidInputError);
    await expect(accounts.setPlan('nobody', 'PLUS')).rejects.toThrow(NotFoundError);
  });

  it('revokes a key by id, by prefix or by the key itself', async () => {
    const { user, key: first } = await accounts.createUser({ name: 'dana' });
    const second = await accounts.createApiKey('dana', 'laptop');
    const third = await accounts.createApiKey(user.id, 'ci');

    await accounts.revokeApiKey(second.apiKey.id);
    await accounts.revokeApiKey(third.apiKey.prefix);
    await accounts.revokeApiKey(first);

    for (const key of [first, second.key, third.key]) expect(await accounts.authenticate(key)).toBeUndefined();
    const keys = await accounts.listApiKeys(user.id);
    expect(keys.map((k) => k.revokedAt !== null)).toEqual([true, true, true]);
  });

  it("lets a user revoke only their own keys when an owner is given", async () => {
    const alice = await accounts.createUser({ name: 'alice' });
    const bob = await accounts.createUser({ name: 'bob' });
    await expect(accounts.revokeApiKey(bob.apiKey.id, alice.user.id)).rejects.toThrow(NotFoundError);
    expect(await accounts.authenticate(bob.key)).toBeDefined();
  });

  it('changes plans and roles', async () => {
    await accounts.createUser({ name: 'erin' });
    expect(await accounts.setPlan('erin', 'PLUS')).toMatchObject({ plan: 'PLUS' });
    expect(await accounts.setRole('erin', 'ADMIN')).toMatchObject({ role: 'ADMIN' });
    expect(await accounts.findUser('erin')).toMatchObject({ plan: 'PLUS', role: 'ADMIN' });
  });

  it('keeps one dev admin whose fixed key survives restarts', async () => {
    const fixed = generateApiKey();
    const first = await accounts.ensureDevUser(fixed);
    const again = await accounts.ensureDevUser(fixed);
    expect(first.user).toMatchObject({ name: 'dev', role: 'ADMIN' });
    expect(again.user.id).toBe(first.user.id);
    expect(await accounts.authenticate(fixed)).toEqual(first.user);
    expect(await accounts.listApiKeys(first.user.id)).toHaveLength(1);
  });

  it('gives the dev user a fresh key each start without a fixed one, retiring the last', async () => {
    const first = await accounts.ensureDevUser();
    const second = await accounts.ensureDevUser();
    expect(second.key).not.toBe(first.key);
    expect(await accounts.authenticate(first.key)).toBeUndefined();
    expect(await accounts.authenticate(second.key)).toMatchObject({ name: 'dev' });
  });
});
