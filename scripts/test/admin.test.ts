import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Accounts, LoraCatalog } from '@easel/api/admin';
import { TokenService } from '@easel/api/admin';
import { clearDatabase, useTestDatabase } from '@easel/api/testing/database';
import { encodeSafetensors } from '@easel/gpu-runtime/tiny-models';
import { adminProgram } from '../admin-program.js';
import { startHubServer, type HubServer } from './support/hub-server.js';

useTestDatabase();

const accounts = new Accounts();
const tokens = new TokenService({ allowances: { FREE: 20, PLUS: 200 } });
let root: string;
let hub: HubServer;
let loras: LoraCatalog;
/** The Hugging Face cache of one test (HF_HUB_CACHE). */
let hfCache: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-admin-'));
  hub = await startHubServer();
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  await clearDatabase();
  loras = new LoraCatalog(await mkdtemp(path.join(root, 'loras-')));
  hfCache = await mkdtemp(path.join(root, 'hf-cache-'));
  hub.requests.length = 0;
});

/** Runs one admin command as `npm run admin -- <args>` would, collecting what it prints. */
async function admin(...args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  let connections = 0;
  const program = adminProgram({
    accounts,
    tokens,
    loras,
    hub: { endpoint: hub.url, cacheDir: hfCache },
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

/** A rank-2 kohya LoRA over one attention projection (or the modules named), seeded values. */
function loraBytes(modules = ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'], seed = 1): Buffer {
  const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i) / 10);
  const tensors = Object.fromEntries(
    modules.flatMap((module) => [
      [`${module}.lora_down.weight`, { shape: [2, 8], values: values(16) }],
      [`${module}.lora_up.weight`, { shape: [8, 2], values: values(16) }],
      [`${module}.alpha`, { shape: [], values: Float32Array.of(2) }],
    ]),
  );
  return Buffer.from(encodeSafetensors(tensors));
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** A1111's addnet_hash_safetensors: sha256 of what follows the 8-byte length and the JSON header, 12 digits. */
const a1111ShortHash = (bytes: Buffer) => sha256(bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)))).slice(0, 12);

describe('npm run admin: LoRAs', () => {
  it('add-lora checks a file in LORAS_DIR, stores its hashes; list-loras and remove-lora', async () => {
    const bytes = loraBytes();
    await writeFile(path.join(loras.lorasDir, 'ink.safetensors'), bytes);
    const added = await admin('add-lora', 'ink', 'ink.safetensors', '--family', 'SDXL', '--family', 'pony', '--trigger', 'ink wash', '--weight', '0.7');
    expect(added.err).toEqual([]);
    expect(added.out).toEqual([`Added the LoRA "ink" (SDXL, PONY): ink.safetensors, short hash ${a1111ShortHash(bytes)}, sha256 ${sha256(bytes)}.`]);
    expect(await loras.find('ink')).toMatchObject({ families: ['SDXL', 'PONY'], triggerWords: ['ink wash'], defaultWeight: 0.7, shortHash: a1111ShortHash(bytes), sha256: sha256(bytes) });

    expect((await admin('list-loras')).out).toEqual([expect.stringMatching(new RegExp(`^ink +SDXL,PONY +${a1111ShortHash(bytes)}  ink.safetensors$`))]);
    expect((await admin('list-loras', '--family', 'SD15')).out).toEqual([]);

    // The file changes under the same name: --replace takes the new content's hashes.
    const changed = loraBytes(undefined, 2);
    await writeFile(path.join(loras.lorasDir, 'ink.safetensors'), changed);
    expect((await admin('add-lora', 'ink', 'ink.safetensors', '--family', 'SDXL')).err).toEqual(['A LoRA named "ink" is already in the catalog (replace it to change it).']);
    expect((await admin('add-lora', 'ink', 'ink.safetensors', '--family', 'SDXL', '--replace')).err).toEqual([]);
    expect(await loras.find('ink')).toMatchObject({ families: ['SDXL'], sha256: sha256(changed) });

    const removed = await admin('remove-lora', 'ink', '--delete-file');
    expect(removed.err).toEqual([]);
    expect(removed.out).toEqual(['Removed the LoRA "ink" (ink.safetensors).', 'Deleted ink.safetensors from LORAS_DIR.']);
    expect(await loras.list()).toEqual([]);
    expect(await readdir(loras.lorasDir)).toEqual([]);
    expect((await admin('remove-lora', 'ink')).err).toEqual(['No LoRA "ink" in the catalog.']);
  });

  it('refuses what is not a LoRA Easel can use, adding nothing', async () => {
    await writeFile(path.join(loras.lorasDir, 'style.ckpt'), Buffer.from([0x80, 0x02, 0x7d]));
    await writeFile(path.join(loras.lorasDir, 'pickle.safetensors'), Buffer.concat([Buffer.from('PK'), loraBytes()]));
    await writeFile(path.join(loras.lorasDir, 'checkpoint.safetensors'), Buffer.from(encodeSafetensors({ 'model.diffusion_model.out.2.weight': { shape: [4], values: new Float32Array(4) } })));
    await writeFile(path.join(loras.lorasDir, 'strange.safetensors'), loraBytes(['lora_unet_my_custom_block_proj', 'lora_vae_decoder_conv']));
    const refusal = async (file: string) => (await admin('add-lora', 'x', file, '--family', 'SD15')).err.join('\n');

    expect(await refusal('style.ckpt')).toMatch(/only \.safetensors files: pickled \.ckpt\/\.pt files can run code/);
    expect(await refusal('pickle.safetensors')).toMatch(/^Not a LoRA Easel can use: "pickle.safetensors" holds a pickle, not safetensors/);
    expect(await refusal('checkpoint.safetensors')).toMatch(/holds no LoRA weights Easel reads .*: its keys are model\.diffusion_model\.out\.2\.weight/);
    expect(await refusal('strange.safetensors')).toMatch(/none of its modules is named as a Stable Diffusion UNet or text encoder module .*lora_unet_my_custom_block_proj/);
    expect(await refusal('absent.safetensors')).toMatch(/LORAS_DIR has no file "absent.safetensors"/);
    expect((await admin('add-lora', 'x', 'a.safetensors', '--family', 'SD3')).err.join('\n')).toMatch(/family must be one of SD15/);
    expect((await admin('add-lora', 'x', '--family', 'SD15')).err).toEqual(["Name the LoRA's file in LORAS_DIR, or fetch it with --hub and --path."]);
    expect(await loras.list()).toEqual([]);
  });

  it('add-lora --hub fetches the file through the Hugging Face cache into LORAS_DIR, checked before it lands', async () => {
    const bytes = loraBytes(['lora_te1_text_model_encoder_layers_0_self_attn_q_proj', 'lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k']);
    const commit = 'c'.repeat(40);
    hub.repos.set('painter/ink-lora', {
      commit,
      files: new Map([
        ['loras/ink_v2.safetensors', bytes],
        ['loras/ink_v2.ckpt', Buffer.from([0x80, 0x02])],
        ['not-a-lora.safetensors', Buffer.from(encodeSafetensors({ 'model.weight': { shape: [1], values: Float32Array.of(1) } }))],
      ]),
    });

    const added = await admin('add-lora', 'ink', '--hub', 'painter/ink-lora', '--path', 'loras/ink_v2.safetensors', '--family', 'SDXL');
    expect(added.err).toEqual([]);
    expect(await readFile(path.join(loras.lorasDir, 'ink.safetensors'))).toEqual(bytes);
    expect(await loras.find('ink')).toMatchObject({ file: 'ink.safetensors', sha256: sha256(bytes), source: `${hub.url}/painter/ink-lora/blob/${commit}/loras/ink_v2.safetensors` });
    // In the standard cache layout, where huggingface_hub finds it too.
    const cached = path.join(hfCache, 'models--painter--ink-lora');
    expect(await readFile(path.join(cached, 'snapshots', commit, 'loras/ink_v2.safetensors'))).toEqual(bytes);
    expect((await stat(path.join(cached, 'blobs', sha256(bytes)))).size).toBe(bytes.length);

    // A second name for the same content, from the cache: no download, and the file in LORAS_DIR is kept.
    hub.requests.length = 0;
    expect((await admin('add-lora', 'ink-again', 'ink.safetensors', '--hub', 'painter/ink-lora@main', '--path', 'loras/ink_v2.safetensors', '--family', 'SDXL')).err).toEqual([]);
    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toEqual([]);

    hub.requests.length = 0;
    const refusals = [
      await admin('add-lora', 'ink', '--hub', 'painter/ink-lora', '--path', 'loras/ink_v2.safetensors', '--family', 'SDXL'),
      await admin('add-lora', 'pickled', '--hub', 'painter/ink-lora', '--path', 'loras/ink_v2.ckpt', '--family', 'SDXL'),
    ].map((result) => result.err.join('\n'));
    expect(refusals[0]).toBe('A LoRA named "ink" is already in the catalog (--replace to change it).');
    expect(refusals[1]).toMatch(/loras\/ink_v2\.ckpt is not a \.safetensors file: pickled/);
    expect(hub.requests, 'refused before asking the Hub').toEqual([]);

    expect((await admin('add-lora', 'other', '--hub', 'painter/ink-lora', '--path', 'not-a-lora.safetensors', '--family', 'SD15')).err.join('\n')).toMatch(
      /^painter\/ink-lora\/not-a-lora\.safetensors is not a LoRA Easel can use: not-a-lora\.safetensors holds no LoRA weights/,
    );
    expect((await admin('add-lora', 'other', '--hub', 'painter/ink-lora', '--path', 'loras/missing.safetensors', '--family', 'SD15')).err.join('\n')).toMatch(
      /has no file loras\/missing\.safetensors \(its \.safetensors files: loras\/ink_v2\.safetensors, not-a-lora\.safetensors\)/,
    );
    expect((await admin('add-lora', 'other', 'ink.safetensors', '--hub', 'painter/ink-lora', '--path', 'not-a-lora.safetensors', '--family', 'SD15')).err.join('\n')).toMatch(/not a LoRA/);
    expect(await readdir(loras.lorasDir)).toEqual(['ink.safetensors']);
    expect((await loras.list()).map((lora) => lora.name)).toEqual(['ink', 'ink-again']);

    // --replace with a file the catalog then refuses (an SD 1.5 LoRA for an SDXL entry): the file
    // in use stays as it was, beside the unchanged entry.
    hub.repos.get('painter/ink-lora')!.files.set('loras/ink_sd15.safetensors', loraBytes(['lora_te_text_model_encoder_layers_0_self_attn_q_proj'], 5));
    const misfit = await admin('add-lora', 'ink', '--hub', 'painter/ink-lora', '--path', 'loras/ink_sd15.safetensors', '--family', 'SDXL', '--replace');
    expect(misfit.err.join('\n')).toMatch(/was trained for SD15.* models \(its module names say so\), not SDXL/);
    expect(await readFile(path.join(loras.lorasDir, 'ink.safetensors'))).toEqual(bytes);
    expect(await loras.find('ink')).toMatchObject({ sha256: sha256(bytes) });
    expect(await readdir(loras.lorasDir)).toEqual(['ink.safetensors']);
    // Accepted, the new file takes the place, and nothing is left aside.
    expect((await admin('add-lora', 'ink', '--hub', 'painter/ink-lora', '--path', 'loras/ink_sd15.safetensors', '--family', 'SD15', '--replace')).err).toEqual([]);
    expect(await loras.find('ink')).toMatchObject({ sha256: sha256(loraBytes(['lora_te_text_model_encoder_layers_0_self_attn_q_proj'], 5)) });
    expect(await readdir(loras.lorasDir)).toEqual(['ink.safetensors']);
  });
});
