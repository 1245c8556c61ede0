import { getEventListeners, setMaxListeners } from 'node:events';
import { pubSubOver, type EaselPubSub } from './event-bus.js';

/** Events within this process: one API instance, the default. It is never interrupted. */
export function createEaselPubSub(): EaselPubSub {
  const target = new EventTarget();
  // Each subscriber of a topic is a listener on it, so a generation watched by a crowd has one per
  // watcher, by design: Node's leak warning past 10 would flag normal use. Leaks are tested
  // instead: every way a subscription ends takes its listener off (subscriptions tests).
  setMaxListeners(0, target);
  return pubSubOver(
    Object.assign(target, {
      listenerCount: (name: string) => getEventListeners(target, name).length,
      onInterrupted: () => () => undefined,
      health: () => ({ kind: 'in-process' as const, connected: true }),
      close: async () => undefined,
    }),
  );
}
