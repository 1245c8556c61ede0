import type { User } from '../accounts/accounts.js';
import type { Services } from '../services.js';

/** What every resolver receives, over HTTP and WebSocket alike. */
export interface GraphQLContext {
  /** The caller, when a valid API key came with the request. */
  user: User | undefined;
  services: Services;
}

/**
 * What sets one caller's results apart from another's (subscriptions that share executions key
 * them on it, see shared-subscriptions.ts). Services are the same for every caller, so it is the
 * user: the whole of it, so that nothing computed for one caller, or for an older state of their
 * account (another role, another plan), reaches another.
 */
export function callerKey(context: GraphQLContext): string {
  return context.user ? JSON.stringify(context.user) : 'anonymous';
}
