import type { Logger } from 'pino';
import type { Accounts, User } from '../accounts/accounts.js';
import type { TokenService } from '../accounts/token-service.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import type { Dispatcher } from '../generations/dispatcher.js';
import type { ImageLinks } from '../generations/image-links.js';
import type { EaselPubSub } from '../generations/events/event-bus.js';

/** The long-lived parts resolvers use; built once at start (see server.ts). */
export interface Services {
  config: Config;
  logger: Logger;
  accounts: Accounts;
  tokens: TokenService;
  catalog: Catalog;
  pubSub: EaselPubSub;
  /** Sends QUEUED generations to the GPU function; call `notify()` after queueing one. */
  dispatcher: Dispatcher;
  /** The URL clients reach this API at, for absolute links (image URLs): PUBLIC_URL, else the listening address. */
  publicUrl: string;
  /** Signs and checks the image links that need no API key (for <img> tags). */
  imageLinks: ImageLinks;
}

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
