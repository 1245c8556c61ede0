import { getEventListeners, setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';

/**
 * In-process events for subscriptions: `publish(topic, payload)` or `publish(topic, id, payload)`.
 * In memory only; with several API instances, give createPubSub a shared event target.
 */
export type EaselPubSub = PubSub<Record<string, [unknown] | [string, unknown]>> & {
  /**
   * Calls `onEvent` with each payload published to a topic (with that id, when given), at once,
   * until the returned function is called. For streams that follow many topics and keep their
   * own queue: unlike `subscribe`'s iterators, it costs no promise per event and subscriber.
   */
  listen(topic: string, id: string | undefined, onEvent: (payload: unknown) => void): () => void;
  /** How many listeners a topic has now: one per subscriber, until it unsubscribes. */
  listenerCount(topic: string, id?: string): number;
};

export function createEaselPubSub(): EaselPubSub {
  const eventTarget = new EventTarget();
  // Each subscriber of a topic is a listener on it, so a generation watched by a crowd has one per
  // watcher, by design: Node's leak warning past 10 would flag normal use. Leaks are tested
  // instead: every way a subscription ends takes its listener off (subscriptions tests).
  setMaxListeners(0, eventTarget);
  // The event names createPubSub gives topics.
  const eventName = (topic: string, id?: string) => (id === undefined ? topic : `${topic}:${id}`);
  return {
    ...createPubSub({ eventTarget }),
    listen(topic, id, onEvent) {
      const listener = (event: Event) => onEvent((event as CustomEvent).detail);
      eventTarget.addEventListener(eventName(topic, id), listener);
      return () => eventTarget.removeEventListener(eventName(topic, id), listener);
    },
    listenerCount: (topic, id) => getEventListeners(eventTarget, eventName(topic, id)).length,
  };
}
