/**
 * What ends a caller's open connections at once: a revoked key (that key's), or a user whose
 * access changed (all of theirs: their role or plan, which their open subscriptions were
 * authorised and computed under). Accounts reports each to a listener; the server publishes it
 * on the event bus, so that every API instance closes its sockets.
 */
export type AccessChange =
  | { kind: 'KEY_REVOKED'; userId: string; keyHash: string }
  | { kind: 'USER_CHANGED'; userId: string; change: 'role' | 'plan' | 'deleted' };

/** The event bus topic access changes are published on. */
export const ACCESS_CHANGES_TOPIC = 'accessChanges';

export type AccessChangeListener = (change: AccessChange) => void;
