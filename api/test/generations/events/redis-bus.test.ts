import { Types } from 'mongoose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBusUnavailableError, type EaselPubSub } from '../../../src/generations/events/event-bus.js';
import { createRedisPubSub } from '../../../src/generations/events/redis.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';

const logger = pino({ level: 'silent' });

/** Resolves with the next payload `bus` hears on the topic. */
function nextOn(bus: EaselPubSub, topic: string, id?: string): { payload: Promise<unknown>; stop: () => void } {
  let stop = () => undefined as void;
  const payload = new Promise<unknown>((resolve) => (stop = bus.listen(topic, id, resolve)));
  return { payload, stop: () => stop() };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the Redis event bus', () => {
  let redis: RedisProcess;
  let a: EaselPubSub;
  let b: EaselPubSub;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([createRedisPubSub(redis.url, logger), createRedisPubSub(redis.url, logger)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('carries an event published on one instance to listeners on another, ObjectIds, Dates and bytes intact', async () => {
    const id = new Types.ObjectId();
    const sent = { _id: id, createdAt: new Date('2026-01-02T03:04:05.678Z'), preview: Buffer.from([1, 2, 3]), lastSequence: 4 };
    const heard = nextOn(b, 'GENERATION', id.toHexString());
    const other = nextOn(b, 'GENERATION', 'someone-else');
    await until(() => b.listenerCount('GENERATION', id.toHexString()) === 1, 'subscribed');
    await new Promise((resolve) => setTimeout(resolve, 50)); // SUBSCRIBE reaches Redis
    a.publish('GENERATION', id.toHexString(), sent);
    const payload = (await heard.payload) as typeof sent;
    expect(payload._id).toBeInstanceOf(Types.ObjectId);
    expect(payload._id.toHexString()).toBe(id.toHexString());
    expect(payload.createdAt).toEqual(sent.createdAt);
    expect(payload.preview).toEqual(sent.preview);
    expect(payload.lastSequence).toBe(4);
    heard.stop();
    other.stop();
    expect(b.listenerCount('GENERATION', id.toHexString())).toBe(0);
  });

  it('keeps the publishing order of one instance', async () => {
    const received: number[] = [];
    const stop = b.listen('ORDER', undefined, (n) => received.push(n as number));
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let n = 0; n < 200; n++) a.publish('ORDER', n);
    await until(() => received.length === 200, 'all 200 arrived');
    stop();
    expect(received).toEqual([...Array(200).keys()]);
  });

  it('interrupts listeners, reports unhealthy and refuses new listeners while Redis is down, then recovers', async () => {
    let interrupted: Error | undefined;
    const stop = b.listen('X', undefined, () => undefined, (error) => (interrupted = error));
    expect(b.health()).toEqual({ kind: 'redis', connected: true });

    await redis.stop();
    await until(() => interrupted !== undefined, 'the listener was interrupted');
    expect(interrupted).toBeInstanceOf(EventBusUnavailableError);
    expect(b.health().connected).toBe(false);
    // a's connections hear of the closing on their own, a moment apart from b's.
    await until(() => !a.health().connected, 'a reports the bus down');
    expect(() => b.listen('X', undefined, () => undefined, () => undefined)).toThrow(EventBusUnavailableError);
    // Publishing while down returns at once and throws nothing.
    const started = performance.now();
    a.publish('X', { lost: true });
    expect(performance.now() - started).toBeLessThan(50);
    stop();

    await redis.restart();
    await until(() => a.health().connected && b.health().connected, 'both reconnected', 15_000);
    const heard = nextOn(b, 'AFTER', undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    a.publish('AFTER', 'back');
    expect(await heard.payload).toBe('back');
  });
});
