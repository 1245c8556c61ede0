import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Accounts, CatalogLora, LoraCatalog, User } from '@easel/api/admin';
import type { TokenService } from '@easel/api/admin';
import { PLANS, ROLES } from '@easel/api/admin';
import { ConflictError, InvalidInputError, NotFoundError } from '@easel/api/admin';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { fetchLoraFile } from './hub/fetch-lora.js';
import { ModelFetchError, parseRepoSpec, type HubOptions } from './hub/hub-api.js';

export interface AdminContext {
  accounts: Accounts;
  tokens: TokenService;
  /** The LoRA catalog, over LORAS_DIR. */
  loras: LoraCatalog;
  /** Where LoRAs are fetched from, and the Hugging Face cache (default: the standard one). */
  hub: HubOptions & { cacheDir?: string };
  /** Opens the database for one command and returns how to close it. */
  connect(): Promise<() => Promise<void>>;
  out(line: string): void;
  /** Reports a failed command; the caller decides the exit status. */
  err(line: string): void;
}

const choice =
  <T extends string>(values: readonly T[], what: string) =>
  (value: string): T => {
    const upper = value.toUpperCase();
    if (!(values as readonly string[]).includes(upper)) throw new InvalidArgumentError(`${what} must be one of ${values.join(', ')}.`);
    return upper as T;
  };

/** A repeatable option: each use adds one value. */
const collect =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T[] = []): T[] => [...previous, parse(value)];

const weight = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < -10 || n > 10) throw new InvalidArgumentError('must be a number between -10 and 10.');
  return n;
};

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a whole number above 0.');
  return n;
};

/** The admin commands (see scripts/admin.ts), over any database and output: tests drive it directly. */
export function adminProgram({ accounts, tokens, loras, hub, connect, out, err }: AdminContext): Command {
  const program = new Command('npm run admin --')
    .description('Manage Easel users, API keys, tokens and LoRAs. Users are named by id or name.')
    .showHelpAfterError()
    // Report instead of exiting, so the caller (and tests) decide what a failure means.
    .exitOverride()
    .configureOutput({ writeOut: (text) => out(text.trimEnd()), writeErr: (text) => err(text.trimEnd()) });

  program
    .command('create-user')
    .description('creates a user and prints their first API key (shown only once)')
    .argument('<name>', 'unique user name')
    .option('--plan <plan>', `${PLANS.join(' or ')}`, choice(PLANS, 'plan'), 'FREE')
    .option('--role <role>', `${ROLES.join(' or ')}`, choice(ROLES, 'role'), 'USER')
    .action((name: string, options: { plan: (typeof PLANS)[number]; role: (typeof ROLES)[number] }) =>
      run(async () => {
        const { user, key } = await accounts.createUser({ name, ...options });
        out(`Created ${describe(user)}.`);
        out(`API key (shown only now): ${key}`);
      }),
    );

  program
    .command('create-key')
    .description('makes another API key for a user and prints it (shown only once)')
    .argument('<user>', 'user id or name')
    .option('--label <label>', 'what the key is for', 'cli')
    .action((userRef: string, options: { label: string }) =>
      run(async () => {
        const { key, apiKey } = await accounts.createApiKey(userRef, options.label);
        out(`Created key ${apiKey.prefix}… (id ${apiKey.id}, "${apiKey.label}").`);
        out(`API key (shown only now): ${key}`);
      }),
    );

  program
    .command('revoke-key')
    .description('revokes an API key: refused at once, its open WebSockets closed at the servers\' next check')
    .argument('<key>', 'the key id, its prefix (easel_AbCd1234) or the whole key')
    .action((ref: string) =>
      run(async () => {
        const apiKey = await accounts.revokeApiKey(ref);
        out(`Revoked key ${apiKey.prefix}… (id ${apiKey.id}, "${apiKey.label}").`);
      }),
    );

  program
    .command('list-keys')
    .description("lists a user's API keys (prefixes only; keys are never stored)")
    .argument('<user>', 'user id or name')
    .action((userRef: string) =>
      run(async () => {
        const user = await accounts.getUser(userRef);
        for (const key of await accounts.listApiKeys(user.id)) {
          out(`${key.id}  ${key.prefix}…  ${key.revokedAt ? 'revoked' : 'active '}  ${key.label}`);
        }
      }),
    );

  program
    .command('set-plan')
    .description("changes a user's plan")
    .argument('<user>', 'user id or name')
    .argument('<plan>', PLANS.join(' or '), choice(PLANS, 'plan'))
    .action((userRef: string, plan: (typeof PLANS)[number]) =>
      run(async () => out(`Now ${describe(await accounts.setPlan(userRef, plan))}.`)),
    );

  program
    .command('set-role')
    .description("changes a user's role")
    .argument('<user>', 'user id or name')
    .argument('<role>', ROLES.join(' or '), choice(ROLES, 'role'))
    .action((userRef: string, role: (typeof ROLES)[number]) =>
      run(async () => out(`Now ${describe(await accounts.setRole(userRef, role))}.`)),
    );

  program
    .command('grant-tokens')
    .description('gives a user bonus tokens, which never expire')
    .argument('<user>', 'user id or name')
    .argument('<amount>', 'how many tokens', wholeNumber)
    .option('--reason <reason>', 'recorded in the ledger', 'granted by an admin')
    .action((userRef: string, amount: number, options: { reason: string }) =>
      run(async () => {
        const user = await accounts.getUser(userRef);
        const balance = await tokens.grant({ userId: user.id, plan: user.plan }, { amount, reason: options.reason });
        out(`Granted ${amount} tokens to ${user.name}: balance ${balance.balance} (${balance.daily} daily + ${balance.bonus} bonus).`);
      }),
    );

  program
    .command('list-users')
    .description('lists every user with plan, role and token balance')
    .action(() =>
      run(async () => {
        for (const user of await accounts.listUsers()) {
          const balance = await tokens.balance({ userId: user.id, plan: user.plan });
          out(`${user.id}  ${user.name.padEnd(20)} ${user.plan.padEnd(5)} ${user.role.padEnd(6)} ${balance.balance} tokens`);
        }
      }),
    );

  program
    .command('add-lora')
    .description(
      'adds a LoRA to the catalog: a .safetensors file in LORAS_DIR, or one fetched from the Hugging Face Hub into LORAS_DIR ' +
        '(--hub and --path). The file must read as a LoRA; its hashes go into the catalog.',
    )
    .argument('<name>', 'the name prompts write: <lora:name:0.8>')
    .argument('[file]', 'its file name in LORAS_DIR (with --hub: where to put it; default <name>.safetensors)')
    .requiredOption('--family <family>', `${MODEL_FAMILIES.join(', ')} (repeat for more)`, collect(choice(MODEL_FAMILIES, 'family')))
    .option('--trigger <word>', 'a trigger word (repeat for more)', collect(String))
    .option('--weight <weight>', 'the weight of <lora:name> written without one', weight, 1)
    .option('--description <text>', 'for people', '')
    .option('--hub <repo>', 'fetch from this Hugging Face repository, owner/name[@revision] (default revision main)')
    .option('--path <file>', 'with --hub: the file in the repository, e.g. pytorch_lora_weights.safetensors')
    .option('--replace', 'replace the catalog entry of that name (and, with --hub, a different file of that file name)', false)
    .action((name: string, file: string | undefined, options: AddLoraOptions) =>
      run(async () => {
        const fields = { name, families: options.family, triggerWords: options.trigger ?? [], defaultWeight: options.weight, description: options.description };
        if (!options.hub) {
          if (options.path) throw new InvalidInputError('--path names a file in a Hub repository: give --hub too.');
          if (!file) throw new InvalidInputError('Name the LoRA\'s file in LORAS_DIR, or fetch it with --hub and --path.');
          return reportLora(await loras.add({ ...fields, file, source: null }, { replace: options.replace }), 'Added');
        }
        if (!options.path) throw new InvalidInputError('--hub needs --path: the .safetensors file in the repository.');
        // A taken name fails before any download.
        if (!options.replace && (await loras.find(name))) throw new ConflictError(`A LoRA named "${name.trim()}" is already in the catalog (--replace to change it).`);
        const { repo, revision } = parseRepoSpec(options.hub);
        const target = file ?? `${name.trim().replace(/[^A-Za-z0-9._ -]+/g, '-')}.safetensors`;
        out(`Fetching ${repo}@${revision}: ${options.path} into LORAS_DIR/${target} …`);
        const fetched = await fetchLoraFile({ repo, revision, path: options.path, lorasDir: loras.lorasDir, file: target, hub, cacheDir: hub.cacheDir, replace: options.replace });
        const source = `${hub.endpoint}/${repo}/blob/${fetched.commit}/${options.path}`;
        try {
          reportLora(await loras.add({ ...fields, file: target, source }, { replace: options.replace }), 'Added');
        } catch (error) {
          // Nothing half done: LORAS_DIR goes back to what the catalog describes.
          await fetched.undo();
          throw error;
        }
        await fetched.keep();
      }),
    );

  program
    .command('list-loras')
    .description('lists the LoRA catalog, with each file and its hash')
    .option('--family <family>', MODEL_FAMILIES.join(', '), choice(MODEL_FAMILIES, 'family'))
    .action((options: { family?: ModelFamily }) =>
      run(async () => {
        for (const lora of await loras.list(options.family)) {
          const installed = (await loras.isInstalled(lora)) ? '' : '  (file missing)';
          out(`${lora.name.padEnd(24)} ${lora.families.join(',').padEnd(12)} ${lora.shortHash}  ${lora.file}${installed}`);
        }
      }),
    );

  program
    .command('remove-lora')
    .description('takes a LoRA out of the catalog: new generations refuse it, queued ones fail (refunded) when dispatched')
    .argument('<name>', 'the LoRA\'s name')
    .option('--delete-file', 'also delete its file from LORAS_DIR, unless another entry uses it', false)
    .action((name: string, options: { deleteFile: boolean }) =>
      run(async () => {
        const removed = await loras.remove(name);
        out(`Removed the LoRA "${removed.name}" (${removed.file}).`);
        if (!options.deleteFile) return;
        const users = (await loras.list()).filter((lora) => lora.file === removed.file);
        if (users.length > 0) return out(`Kept ${removed.file}: the LoRA "${users[0].name}" uses it too.`);
        await rm(path.join(loras.lorasDir, removed.file), { force: true });
        out(`Deleted ${removed.file} from LORAS_DIR.`);
      }),
    );

  function reportLora(lora: CatalogLora, verb: string): void {
    out(`${verb} the LoRA "${lora.name}" (${lora.families.join(', ')}): ${lora.file}, short hash ${lora.shortHash}, sha256 ${lora.sha256}.`);
  }

  /** Runs one command on an open database; a domain error is printed as a plain message. */
  async function run(command: () => Promise<void>): Promise<void> {
    const close = await connect();
    try {
      await command();
    } catch (error) {
      if (!(error instanceof InvalidInputError || error instanceof NotFoundError || error instanceof ConflictError || error instanceof ModelFetchError)) throw error;
      err(error.message);
    } finally {
      await close();
    }
  }

  return program;
}

interface AddLoraOptions {
  family: ModelFamily[];
  trigger?: string[];
  weight: number;
  description: string;
  hub?: string;
  path?: string;
  replace: boolean;
}

function describe(user: User): string {
  return `${user.name} (id ${user.id}, ${user.plan}, ${user.role})`;
}
