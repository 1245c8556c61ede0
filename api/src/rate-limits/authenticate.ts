import type { Accounts, User } from '../accounts/accounts.js';
import type { RateLimits } from './rate-limits.js';

/**
 * A key's user, with guessing kept in check: an address that sent too many unknown or revoked
 * keys is refused (RateLimitedError) before its key is even looked up. Undefined: a bad key.
 */
export async function authenticateFrom(
  address: string,
  key: string | undefined,
  { accounts, rateLimits }: { accounts: Accounts; rateLimits: RateLimits },
): Promise<User | undefined> {
  await rateLimits.check('authFailures', address);
  const user = key ? await accounts.authenticate(key) : undefined;
  if (!user) await rateLimits.consume('authFailures', address);
  return user;
}
