import type { RequestHandler } from 'express';
import mongoose from 'mongoose';
import type { Database } from '../db/connection.js';
import { VERSION } from '../version.js';

/**
 * `GET /healthz`: 200 with `{ status: "ok", database: { kind, connected, persistent }, version }` while the
 * database answers a ping, 503 with status "unavailable" when it does not, for load balancers.
 */
export function healthz(database: Pick<Database, 'kind'>): RequestHandler {
  return async (_req, res) => {
    const connected = await databaseAnswers();
    res.status(connected ? 200 : 503).json({
      status: connected ? 'ok' : 'unavailable',
      // jongodb keeps everything in memory: a restart loses every user, key and balance.
      database: { kind: database.kind, connected, persistent: database.kind !== 'jongodb' },
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
