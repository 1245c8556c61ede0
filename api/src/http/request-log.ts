import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** One line per HTTP request: method, path, status, duration. Never headers (they carry keys). */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // originalUrl: mounted routers see a shortened req.path. The query string stays out of logs.
      const path = req.originalUrl.split('?')[0];
      const level = path === '/healthz' ? 'debug' : 'info';
      logger[level]({ method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}
