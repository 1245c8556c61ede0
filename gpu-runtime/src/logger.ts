import { pino, type Logger } from 'pino';
import type { FunctionConfig } from './config.js';

/**
 * JSON lines on stdout, where Lambda collects them. The job secret is never logged on purpose;
 * redaction is the net under that.
 */
export function createFunctionLogger(config: Pick<FunctionConfig, 'logLevel'>): Logger {
  return pino({
    name: 'easel-gpu',
    level: config.logLevel,
    redact: { paths: ['secret', '*.secret', 'callback.secret', '*.callback.secret'], censor: '[redacted]' },
  });
}
