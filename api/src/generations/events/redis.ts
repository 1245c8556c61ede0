import { Redis, type RedisOptions } from 'ioredis';
import { mongo } from 'mongoose';
import type { Logger } from 'pino';
import { EventBusUnavailableError, pubSubOver, type BusTarget, type EaselPubSub } from './event-bus.js';

/*
 * Events over Redis pub/sub, so that every API instance's subscribers see what any instance
 * publishes. Two connections (a subscribing one can do nothing else). Written here rather than
 * with @graphql-yoga/redis-event-target because that adapter drops the promises of PUBLISH and
 * SUBSCRIBE: a Redis outage would be an unhandled rejection (a crash) or silence, and here it must
 * be visible.
 *
 * When a connection drops, events may be missed: every stream listening is interrupted (its
 * subscriber gets an error and subscribes again, starting from the stored state), /healthz says
 * 503, publishing drops events at once (the stored state stays the truth), and ioredis keeps
 * reconnecting. Nothing waits on Redis: commands are never queued while it is away.
 */

/** Payloads as BSON, as the database stores them: ObjectIds, Dates and Buffers come back as they went. */
const encode = (payload: unknown) => Buffer.from(mongo.BSON.serialize({ payload }, { ignoreUndefined: true }));
const decode = (message: Buffer) => mongo.BSON.deserialize(message, { promoteBuffers: true }).payload as unknown;

/** How long Redis gets to answer a command, or to connect at start. */
const COMMAND_TIMEOUT_MS = 2_000;
/** Reconnect attempts: quickly at first, then every 2 s, for as long as it takes. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2_000);

export async function createRedisPubSub(url: string, logger: Logger): Promise<EaselPubSub> {
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: COMMAND_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy,
    connectionName: 'easel-events',
  };
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
  for (const connection of [publisher, subscriber]) connection.on('error', () => undefined); // reported by the status changes below
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
  } catch (error) {
    publisher.disconnect();
    subscriber.disconnect();
    throw new Error(`REDIS_URL: Redis cannot be reached (${(error as Error).message}).`);
  }
  return pubSubOver(new RedisTarget(publisher, subscriber, logger));
}

type Listener = NonNullable<Parameters<EventTarget['addEventListener']>[1]>;

class RedisTarget extends EventTarget implements BusTarget {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly interruptions = new Set<(error: EventBusUnavailableError) => void>();
  private up = true;
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
  ) {
    super();
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.deliver(channel.toString(), message));
    for (const connection of [publisher, subscriber]) {
      connection.on('close', () => this.changed());
      connection.on('ready', () => this.changed());
    }
  }

  override addEventListener(name: string, listener: Listener | null): void {
    if (!listener) return;
    let listeners = this.listeners.get(name);
    if (!listeners) {
      this.listeners.set(name, (listeners = new Set()));
      this.subscriber.subscribe(name).catch((error: Error) => {
        this.logger.error({ err: error, channel: name }, 'event bus: could not subscribe; interrupting its listeners');
        this.interrupt();
      });
    }
    listeners.add(listener);
  }

  override removeEventListener(name: string, listener: Listener | null): void {
    const listeners = this.listeners.get(name);
    if (!listener || !listeners?.delete(listener) || listeners.size) return;
    this.listeners.delete(name);
    // Down: ioredis resubscribes on reconnect; a channel nobody listens to then costs one message each.
    if (this.subscriber.status === 'ready') this.subscriber.unsubscribe(name).catch(() => undefined);
  }

  override dispatchEvent(event: Event): boolean {
    if (this.closed) return true;
    if (!this.up) {
      if (this.dropped++ === 0) this.logger.warn('event bus down: events are dropped until Redis is back (stored states are unaffected)');
      return true;
    }
    this.publisher.publish(event.type, encode((event as CustomEvent).detail)).catch((error: Error) => {
      this.logger.warn({ err: error, channel: event.type }, 'event bus: an event could not be published');
    });
    return true;
  }

  listenerCount(name: string): number {
    return this.listeners.get(name)?.size ?? 0;
  }

  onInterrupted(callback: (error: EventBusUnavailableError) => void): () => void {
    if (!this.up) throw new EventBusUnavailableError();
    this.interruptions.add(callback);
    return () => this.interruptions.delete(callback);
  }

  health() {
    return { kind: 'redis' as const, connected: this.up };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt();
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  /** One parse per message: every listener here gets the same object (shared-subscriptions relies on it). */
  private deliver(channel: string, message: Buffer): void {
    const listeners = this.listeners.get(channel);
    if (!listeners) return;
    const event = new CustomEvent(channel, { detail: decode(message) });
    for (const listener of [...listeners]) {
      if (typeof listener === 'function') listener(event);
      else listener.handleEvent(event);
    }
  }

  private changed(): void {
    const up = this.publisher.status === 'ready' && this.subscriber.status === 'ready';
    if (up === this.up) return;
    this.up = up;
    if (this.closed) return;
    if (up) {
      this.logger.info({ dropped: this.dropped }, 'event bus: Redis is back');
      this.dropped = 0;
    } else {
      this.logger.error('event bus: lost Redis; live subscriptions are interrupted and /healthz reports 503 until it is back');
      this.interrupt();
    }
  }

  private interrupt(): void {
    const callbacks = [...this.interruptions];
    this.interruptions.clear();
    const error = new EventBusUnavailableError();
    for (const callback of callbacks) callback(error);
  }
}
