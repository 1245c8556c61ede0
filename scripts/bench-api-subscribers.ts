/**
 * The subscribers of `npm run bench:api`, in a worker thread so that their WebSocket work does
 * not run on the server's event loop. Each of `count` clients opens its own connection and
 * follows one generation; the worker tells the main thread when all are subscribed, when all
 * have seen a step, and finally every arrival time (epoch milliseconds, microsecond precision).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface SubscribersInput {
  url: string;
  key: string;
  generationId: string;
  count: number;
}

export type SubscribersMessage =
  | { type: 'subscribed' }
  | { type: 'step'; step: number }
  | { type: 'arrivals'; arrivals: Record<number, number[]> };

const { url, key, generationId, count } = workerData as SubscribersInput;
const epochNow = () => performance.timeOrigin + performance.now();
const send = (message: SubscribersMessage) => parentPort!.postMessage(message);

const arrivals: Record<number, number[]> = {};
let subscribed = 0;
let ended = 0;

for (let i = 0; i < count; i++) {
  const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${key}` }, retryAttempts: 0 });
  let first = true;
  client.subscribe<{ generationUpdated: { step: number; status: string } }>(
    { query: 'subscription ($id: ID!) { generationUpdated(id: $id) { status step totalSteps etaSeconds previewUrl } }', variables: { id: generationId } },
    {
      next: ({ data }) => {
        const at = epochNow();
        if (first) {
          // The current state, sent the moment the subscription starts.
          first = false;
          if (++subscribed === count) send({ type: 'subscribed' });
          return;
        }
        const { step, status } = data!.generationUpdated;
        if (status !== 'RUNNING' || step === 0) return;
        (arrivals[step] ??= []).push(at);
        if (arrivals[step].length === count) send({ type: 'step', step });
      },
      error: (error) => {
        // A closed socket arrives as a CloseEvent, whose fields JSON.stringify does not see.
        const { code, reason } = error as { code?: number; reason?: string };
        throw error instanceof Error ? error : new Error(`subscription ended: ${code ?? ''} ${reason ?? String(error)}`);
      },
      complete: () => {
        void client.dispose();
        if (++ended === count) send({ type: 'arrivals', arrivals });
      },
    },
  );
}
