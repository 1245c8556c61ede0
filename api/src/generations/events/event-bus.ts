import { createPubSub, type PubSub } from '@graphql-yoga/subscription';

/**
 * The events subscriptions follow: `publish(topic, payload)` or `publish(topic, id, payload)`.
 * In-process (in-process.ts) on one instance; over Redis (redis.ts) when several share the work,
 * so that an event published on one instance reaches the subscribers of every other.
 *
 * Publishing never waits: a callback's answer to the GPU function does not depend on the bus.
 * Delivery is at most once; subscribers keep order themselves (publisher.ts's versions) and read
 * their starting state from the database, so a lost or repeated event never moves them backwards.
 */
export type EaselPubSub = PubSub<Record<string, [unknown] | [string, unknown]>> & {
  /**
   * Calls `onEvent` with each payload published to a topic (with that id, when given), at once,
   * until the returned function is called. For streams that follow many topics and keep their
   * own queue: unlike `subscribe`'s iterators, it costs no promise per event and subscriber.
   * `onInterrupted` is called (once, then the listener is gone) when the bus loses its connection
   * and events may have been missed; a bus that is already down throws EventBusUnavailableError.
   */
  listen(topic: string, id: string | undefined, onEvent: (payload: unknown) => void, onInterrupted?: (error: EventBusUnavailableError) => void): () => void;
  /** How many listeners a topic has on this instance now: one per subscriber, until it unsubscribes. */
  listenerCount(topic: string, id?: string): number;
  /** Whether events can be delivered now (for /healthz). */
  health(): EventBusHealth;
  /** Lets go of connections; publishing afterwards is dropped. */
  close(): Promise<void>;
};

export interface EventBusHealth {
  kind: 'in-process' | 'redis';
  connected: boolean;
}

/** The bus cannot deliver events now (Redis unreachable); subscribing again later works. */
export class EventBusUnavailableError extends Error {
  override name = 'EventBusUnavailableError';
  constructor() {
    super('Live updates are unavailable: the event bus (Redis) cannot be reached. Subscribe again in a moment; you get the current state first.');
  }
}

/** The event target both buses provide: the DOM's, plus what listen() and health() need. */
export interface BusTarget extends EventTarget {
  listenerCount(eventName: string): number;
  /** Registers a callback for the next connection loss; returns its removal. Throws when down. */
  onInterrupted(callback: (error: EventBusUnavailableError) => void): () => void;
  health(): EventBusHealth;
  close(): Promise<void>;
}

/** The event names createPubSub gives topics. */
export const eventName = (topic: string, id?: string) => (id === undefined ? topic : `${topic}:${id}`);

export function pubSubOver(target: BusTarget): EaselPubSub {
  return {
    ...createPubSub({ eventTarget: target }),
    listen(topic, id, onEvent, onInterrupted) {
      const name = eventName(topic, id);
      const listener = (event: Event) => onEvent((event as CustomEvent).detail);
      const forget = onInterrupted ? target.onInterrupted(onInterrupted) : () => undefined;
      target.addEventListener(name, listener);
      return () => {
        forget();
        target.removeEventListener(name, listener);
      };
    },
    listenerCount: (topic, id) => target.listenerCount(eventName(topic, id)),
    health: () => target.health(),
    close: () => target.close(),
  };
}
