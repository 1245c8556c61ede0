import { Command, InvalidArgumentError } from 'commander';
import type { Accounts, User } from '@easel/api/admin';
import type { TokenService } from '@easel/api/admin';
import { PLANS, ROLES } from '@easel/api/admin';
import { ConflictError, InvalidInputError, NotFoundError } from '@easel/api/admin';

export interface AdminContext {
  accounts: Accounts;
  tokens: TokenService;
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

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a whole number above 0.');
  return n;
};

/** The admin commands (see scripts/admin.ts), over any database and output: tests drive it directly. */
export function adminProgram({ accounts, tokens, connect, out, err }: AdminContext): Command {
  const program = new Command('npm run admin --')
    .description('Manage Easel users, API keys and tokens. Users are named by id or name.')
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
    .description('revokes an API key; it stops working at once')
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

  /** Runs one command on an open database; a domain error is printed as a plain message. */
  async function run(command: () => Promise<void>): Promise<void> {
    const close = await connect();
    try {
      await command();
    } catch (error) {
      if (!(error instanceof InvalidInputError || error instanceof NotFoundError || error instanceof ConflictError)) throw error;
      err(error.message);
    } finally {
      await close();
    }
  }

  return program;
}

function describe(user: User): string {
  return `${user.name} (id ${user.id}, ${user.plan}, ${user.role})`;
}
