import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Wherever a credential could sit in a logged object. Requests are logged without headers
 * anyway; this is the net under that.
 */
const REDACT = [
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  '*.headers.authorization',
  'key',
  '*.key',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** JSON lines to stdout, or to `destination` (tests); pretty lines at a development terminal. */
export function createLogger(config: Pick<Config, 'logLevel' | 'isProduction'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  const pretty = !config.isProduction && process.stdout.isTTY && hasPinoPretty();
  return pino(pretty ? { ...options, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } } : options);
}

function hasPinoPretty(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false; // a production install without devDependencies
  }
}
