import { describe, expect, it } from 'vitest';
import { codes, useTestServer } from '../support/server.js';

const server = useTestServer();

const ME = '{ me { id name plan role } }';

describe('authentication', () => {
  it('answers UNAUTHENTICATED without a key, and public queries still work', async () => {
    const me = await server().graphql(ME);
    expect(codes(me)).toEqual(['UNAUTHENTICATED']);
    expect(me.errors?.[0].message).toMatch(/Authorization: Bearer/);

    const samplers = await server().graphql('{ samplers { label } }');
    expect(samplers.errors).toBeUndefined();
    expect(samplers.data?.samplers.length).toBeGreaterThan(0);
  });

  it('refuses an unknown key with 401 UNAUTHENTICATED, even for public queries', async () => {
    for (const key of ['easel_' + 'x'.repeat(43), 'garbage']) {
      const response = await server().graphql('{ samplers { label } }', { key });
      expect(response.status).toBe(401);
      expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('knows the caller by their key', async () => {
    const { user, key } = await server().createUser('alice', { plan: 'PLUS' });
    const me = await server().graphql(ME, { key });
    expect(me.data?.me).toEqual({ id: user.id, name: 'alice', plan: 'PLUS', role: 'USER' });
  });

  it('stops a revoked key at once', async () => {
    const { key } = await server().createUser('bob');
    const issued = await server().graphql('mutation { createApiKey(label: "spare") { key apiKey { id prefix } } }', { key });
    const spare = issued.data?.createApiKey;
    expect(spare.key.startsWith(spare.apiKey.prefix)).toBe(true);
    expect((await server().graphql(ME, { key: spare.key })).data?.me.name).toBe('bob');

    const revoked = await server().graphql(`mutation { revokeApiKey(id: "${spare.apiKey.id}") { revokedAt } }`, { key });
    expect(revoked.data?.revokeApiKey.revokedAt).toEqual(expect.any(String));
    expect(codes(await server().graphql(ME, { key: spare.key }))).toEqual(['UNAUTHENTICATED']);
    expect((await server().graphql(ME, { key })).data?.me.name).toBe('bob');
  });

  it("lists a user's own keys without the secrets, and keeps other users' keys out of reach", async () => {
    const carol = await server().createUser('carol');
    const dave = await server().createUser('dave');
    const keys = await server().graphql('{ me { apiKeys { id label prefix revokedAt } } }', { key: carol.key });
    expect(keys.data?.me.apiKeys).toEqual([{ id: expect.any(String), label: 'default', prefix: carol.key.slice(0, 14), revokedAt: null }]);

    const daveKeys = await server().graphql('{ me { apiKeys { id } } }', { key: dave.key });
    const attempt = await server().graphql(`mutation { revokeApiKey(id: "${daveKeys.data?.me.apiKeys[0].id}") { id } }`, { key: carol.key });
    expect(codes(attempt)).toEqual(['NOT_FOUND']);
    const forOther = await server().graphql(`mutation { createApiKey(label: "x", userId: "${dave.user.id}") { key } }`, { key: carol.key });
    expect(codes(forOther)).toEqual(['FORBIDDEN']);
  });
});

describe('roles', () => {
  const ADMIN_ONLY = [
    '{ users { id } }',
    'mutation { createUser(input: { name: "mallory" }) { key } }',
    'mutation { setPlan(userId: "admin", plan: PLUS) { plan } }',
    'mutation { retireModel(id: "tiny-sd15") { retired } }',
    'mutation { updateFamilyPreset(family: PONY, input: { qualityTags: [] }) { family } }',
  ];

  it('refuses admin operations to users with FORBIDDEN and to strangers with UNAUTHENTICATED', async () => {
    const { key } = await server().createUser('eve');
    for (const operation of ADMIN_ONLY) {
      expect(codes(await server().graphql(operation, { key })), operation).toEqual(['FORBIDDEN']);
      expect(codes(await server().graphql(operation)), operation).toEqual(['UNAUTHENTICATED']);
    }
    const models = await server().graphql('{ model(id: "tiny-sd15") { retired } }');
    expect(models.data?.model.retired).toBe(false);
  });

  it('lets an admin create users whose key works, and change their plan', async () => {
    const { key: adminKey } = server().admin;
    const created = await server().graphql(
      'mutation { createUser(input: { name: "frank", plan: PLUS }) { key user { id name plan role } } }',
      { key: adminKey },
    );
    const { key, user } = created.data?.createUser;
    expect(user).toMatchObject({ name: 'frank', plan: 'PLUS', role: 'USER' });
    expect((await server().graphql(ME, { key })).data?.me.id).toBe(user.id);

    const changed = await server().graphql('mutation { setPlan(userId: "frank", plan: FREE) { plan } }', { key: adminKey });
    expect(changed.data?.setPlan.plan).toBe('FREE');
    const again = await server().graphql('mutation { createUser(input: { name: "frank" }) { key } }', { key: adminKey });
    expect(codes(again)).toEqual(['CONFLICT']);
    expect(again.errors?.[0].message).toContain('"frank" already exists');
  });

  it('reports bad input with BAD_USER_INPUT and the field at fault', async () => {
    const response = await server().graphql('mutation { createUser(input: { name: "" }) { key } }', { key: server().admin.key });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0].message).toMatch(/name must be longer than or equal to 1 characters/);
    expect(response.errors?.[0].extensions?.invalidFields).toEqual([{ field: 'name', message: expect.any(String) }]);

    const unknownPlan = await server().graphql('mutation { setPlan(userId: "admin", plan: GOLD) { plan } }', { key: server().admin.key });
    expect(codes(unknownPlan)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(unknownPlan.errors?.[0].message).toMatch(/GOLD/);
  });
});
