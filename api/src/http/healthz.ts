import type { RequestHandler } from 'express';
import mongoose from 'mongoose';
import type { Database } from '../db/connection.js';
import type { EventBusHealth } from '../generations/events/event-bus.js';
import { VERSION } from '../version.js';

/**
 * `GET /healthz`: 200 with `{ status: "ok", database: { kind, connected, persistent }, events: {
 * kind, connected }, version }` while the database answers a ping and the event bus can deliver,
 * 503 with status "unavailable" when either cannot, for load balancers.
 */
export function healthz(database: Pick<Database, 'kind'>, events: { health(): EventBusHealth }): RequestHandler {
  return async (_req, res) => {
    const connected = await databaseAnswers();
    const bus = events.health();
    const ok = connected && bus.connected;
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'unavailable',
      // jongodb keeps everything in memory: a restart loses every user, key and balance.
      database: { kind: database.kind, connected, persistent: database.kind !== 'jongodb' },
      events: bus,
      version: VERSION,
    });
  };
}

async function databaseAnswers(): Promise<boolean> {
  const db = mongoose.connection.readyState === mongoose.ConnectionStates.connected ? mongoose.connection.db : undefined;
  if (!db) return false;
  try {
    await db.command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}
