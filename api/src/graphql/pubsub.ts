import { createPubSub, type PubSub } from '@graphql-yoga/subscription';

/**
 * In-process events for subscriptions: `publish(topic, payload)` or `publish(topic, id, payload)`.
 * In memory only; with several API instances, give createPubSub a shared event target.
 */
export type EaselPubSub = PubSub<Record<string, [unknown] | [string, unknown]>>;

export function createEaselPubSub(): EaselPubSub {
  return createPubSub();
}
