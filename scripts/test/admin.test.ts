import { beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '@easel/api/admin';
import { TokenService } from '@easel/api/admin';
import { clearDatabase, useTestDatabase } from '@easel/api/testing/database';
import { adminProgram } from '../admin-program.js';

useTestDatabase();
beforeEach(clearDatabase);

const accounts = new Accounts();
const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });

/** Runs one admin command as `npm run admin -- <args>` would, collecting what it prints. */
async function admin(...args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  let connections = 0;
  const program = adminProgram({
    accounts,
    tokens,
    connect: async () => {
      connections++;
      return async () => {
        connections--;
      };
    },
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch {
    // commander reports usage errors through err() before throwing
  }
  expect(connections, 'every connection is closed').toBe(0);
  return { out, err };
}

const keyIn = (lines: string[]) => /API key \(shown only now\): (easel_\S+)/.exec(lines.join('\n'))?.[1];

describe('npm run admin', () => {
  it('create-user prints a key that authenticates the new user', async () => {
    const { out, err } = await admin('create-user', 'alice', '--plan', 'plus', '--role', 'ADMIN');
    expect(err).toEqual([]);
    expect(out[0]).toMatch(/^Created alice \(id [0-9a-f]{24}, PLUS, ADMIN\)\.$/);
    expect(await accounts.authenticate(keyIn(out)!)).toMatchObject({ name: 'alice', plan: 'PLUS', role: 'ADMIN' });
  });

  it('create-key, list-keys and revoke-key manage a user’s keys', async () => {
    await admin('create-user', 'bob');
    const created = await admin('create-key', 'bob', '--label', 'laptop');
    const key = keyIn(created.out)!;
    expect(await accounts.authenticate(key)).toMatchObject({ name: 'bob' });

    const listed = await admin('list-keys', 'bob');
    expect(listed.out).toHaveLength(2);
    expect(listed.out[1]).toContain(`${key.slice(0, 14)}…  active   laptop`);

    const revoked = await admin('revoke-key', key.slice(0, 14));
    expect(revoked.out[0]).toMatch(/^Revoked key easel_/);
    expect(await accounts.authenticate(key)).toBeUndefined();
  });

  it('set-plan, set-role and grant-tokens change a user', async () => {
    await admin('create-user', 'carol');
    expect((await admin('set-plan', 'carol', 'PLUS')).out[0]).toContain('PLUS');
    expect((await admin('set-role', 'carol', 'admin')).out[0]).toContain('ADMIN');
    const granted = await admin('grant-tokens', 'carol', '25', '--reason', 'prize');
    expect(granted.out[0]).toBe('Granted 25 tokens to carol: balance 225 (200 daily + 25 bonus).');

    const listed = await admin('list-users');
    expect(listed.out).toHaveLength(1);
    expect(listed.out[0]).toMatch(/carol +PLUS +ADMIN +225 tokens$/);
  });

  it('explains mistakes instead of crashing', async () => {
    expect((await admin('set-plan', 'nobody', 'PLUS')).err).toEqual(['No user "nobody".']);
    expect((await admin('set-plan', 'nobody', 'GOLD')).err.join('\n')).toMatch(/plan must be one of FREE, PLUS/);
    expect((await admin('grant-tokens', 'nobody', '-3')).err.join('\n')).toMatch(/whole number above 0/);
    await admin('create-user', 'dana');
    expect((await admin('create-user', 'dana')).err).toEqual(['A user named "dana" already exists.']);
    expect((await admin('frobnicate')).err.join('\n')).toMatch(/unknown command 'frobnicate'/);
  });
});
