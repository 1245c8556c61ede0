import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Accounts } from './accounts/accounts.js';
import type { TokenService } from './accounts/token-service.js';
import type { Catalog } from './catalog/catalog.js';
import type { LoraCatalog } from './catalog/lora-catalog.js';
import type { Config } from './config.js';
import type { Dispatcher } from './generations/dispatch/dispatcher.js';
import type { EaselPubSub } from './generations/events/event-bus.js';
import type { LifecycleServices } from './generations/events/lifecycle.js';
import type { ImageLinks } from './generations/images/image-links.js';
import type { RateLimits } from './rate-limits/rate-limits.js';
import type { WebhookSecrets } from './webhooks/webhook-secrets.js';

/** The long-lived parts the API's adapters (GraphQL resolvers, HTTP routes) use; built once at start (see server.ts). */
export interface Services {
  config: Config;
  logger: Logger;
  accounts: Accounts;
  tokens: TokenService;
  catalog: Catalog;
  /** LoRAs people may name in prompts and in generateImage's `loras`. */
  loras: LoraCatalog;
  pubSub: EaselPubSub;
  /** Ends, moves and announces jobs (callbacks, dispatcher, cancels): the tokens, the bus and the webhook deliveries. */
  lifecycle: LifecycleServices;
  /** Sends QUEUED generations to the GPU function; call `notify()` after queueing one. */
  dispatcher: Dispatcher;
  /** The URL clients reach this API at, for absolute links (image URLs): PUBLIC_URL, else the listening address. */
  publicUrl: string;
  /** Signs and checks the image links that need no API key (for <img> tags). */
  imageLinks: ImageLinks;
  /** Per-user and per-address budgets (RATE_LIMITED / HTTP 429). */
  rateLimits: RateLimits;
  /** The client's address of a request or WebSocket upgrade (TRUST_PROXY), for per-address limits. */
  clientAddress(request: IncomingMessage): string;
  /** The users' webhook signing secrets (sealed with WEBHOOK_SECRETS_KEY when set). */
  webhookSecrets: WebhookSecrets;
}
