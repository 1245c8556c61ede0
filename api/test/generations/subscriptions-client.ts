import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client for a running server, authenticated like a browser app would be. */
export function wsClient(serverUrl: string, key: string): Client {
  return createClient({
    url: `${serverUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
}

export interface Followed<T> {
  updates: T[];
  /** Resolves when the server ends the subscription (or fails it). */
  done: Promise<void>;
  /** Resolves with the first update that satisfies `test`. */
  until(test: (update: T) => boolean): Promise<T>;
  stop(): void;
}

/** Subscribes and keeps every update, in the order received. */
export function follow<T>(client: Client, query: string, variables: Record<string, unknown>, field: string): Followed<T> {
  const updates: T[] = [];
  const waiters: { test: (update: T) => boolean; resolve: (update: T) => void }[] = [];
  let stop = () => {};
  const done = new Promise<void>((resolve, reject) => {
    stop = client.subscribe<Record<string, T>>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          const update = result.data![field];
          updates.push(update);
          for (const waiter of [...waiters]) {
            if (!waiter.test(update)) continue;
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(update);
          }
        },
        error: (error) => reject(error instanceof Error ? error : new Error(describeEnd(error))),
        complete: resolve,
      },
    );
  });
  return {
    updates,
    done,
    until: (test) => {
      const seen = updates.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise<T>((resolve, reject) => {
        waiters.push({ test, resolve });
        done.then(() => reject(new Error('the subscription ended first')), reject);
      });
    },
    stop: () => stop(),
  };
}

/** A socket closed under a subscription arrives as a CloseEvent, whose fields JSON.stringify does not see. */
function describeEnd(error: unknown): string {
  const { code, reason } = error as { code?: unknown; reason?: unknown };
  return typeof code === 'number' ? `socket closed: ${code} ${String(reason)}` : JSON.stringify(error);
}
