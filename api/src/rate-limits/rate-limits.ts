import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import type { RateLimits as RateLimitSettings } from '../config.js';

/*
 * Per-minute budgets, per user (generateImage, analyzePrompt, uploads) or per client address
 * (failed authentication, WebSocket connects). One instance: counted in memory. Several: in the
 * Redis at REDIS_URL, shared by all, with the in-memory count standing in while Redis is away.
 */

export type RateLimitKind = keyof RateLimitSettings;

const WHAT: Record<RateLimitKind, string> = {
  generate: 'generateImage calls',
  analyze: 'analyzePrompt calls',
  uploads: 'uploads',
  authFailures: 'requests with an unknown or revoked API key',
  wsConnects: 'WebSocket connections',
};

/** Over a budget; `retryAfterSeconds` says when the next one is allowed. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';

  constructor(
    readonly kind: RateLimitKind,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many ${WHAT[kind]}: the limit is ${limit} a minute. Retry in ${retryAfterSeconds} s.`);
  }
}

const WINDOW_SECONDS = 60;

export class RateLimits {
  private readonly limiters = new Map<RateLimitKind, RateLimiterAbstract>();
  private readonly redis: Redis | undefined;

  constructor(
    private readonly settings: RateLimitSettings,
    options: { redisUrl?: string; logger: Logger },
  ) {
    this.redis = options.redisUrl
      ? new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false })
      : undefined;
    this.redis?.on('error', (error) => options.logger.warn({ err: error }, 'rate limits: Redis unavailable, counting in memory meanwhile'));
    for (const kind of Object.keys(settings) as RateLimitKind[]) {
      const points = settings[kind];
      if (points === 0) continue;
      const common = { points, duration: WINDOW_SECONDS, keyPrefix: `easel:rl:${kind}` };
      const memory = new RateLimiterMemory(common);
      this.limiters.set(kind, this.redis ? new RateLimiterRedis({ ...common, storeClient: this.redis, insuranceLimiter: memory }) : memory);
    }
  }

  /** Counts one against `key`'s budget; throws RateLimitedError once it is spent. */
  async consume(kind: RateLimitKind, key: string): Promise<void> {
    const limiter = this.limiters.get(kind);
    if (!limiter) return;
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw this.refusal(kind, rejection);
      throw rejection;
    }
  }

  /** Throws RateLimitedError when `key`'s budget is spent, without counting anything. */
  async check(kind: RateLimitKind, key: string): Promise<void> {
    const limiter = this.limiters.get(kind);
    const state = limiter ? await limiter.get(key) : null;
    if (state && state.consumedPoints > this.settings[kind]) throw this.refusal(kind, state);
  }

  /** Forgets what `key` has spent of `kind`, as if its minute were over. */
  async reset(kind: RateLimitKind, key: string): Promise<void> {
    await this.limiters.get(kind)?.delete(key);
  }

  async close(): Promise<void> {
    if (this.redis) await this.redis.quit().catch(() => this.redis?.disconnect());
  }

  private refusal(kind: RateLimitKind, state: RateLimiterRes): RateLimitedError {
    return new RateLimitedError(kind, this.settings[kind], Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
  }
}
