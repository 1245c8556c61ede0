/**
 * The GPU function on this machine, behind the Lambda Invoke API, so the API's Lambda client
 * reaches it exactly as it reaches AWS. Two ways to run it:
 *
 *   in-process:  startLocalFunction({ modelsDir }) -> { url, close }   (the API's `npm start`)
 *   a process:   node gpu-runtime/dist/local-function.js           (prints LOCAL_FUNCTION_URL=…)
 *
 * As a process it reads MODELS_DIR, GPU_FUNCTION_NAME, LOCAL_FUNCTION_PORT (0: a free port) and
 * LOCAL_FUNCTION_CONCURRENCY, plus the function's own variables (gpu-runtime/src/config.ts).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { loadFunctionConfig } from './config.js';
import { createHandler } from './handler.js';
import { startLocalInvoke, type LocalInvokeServer } from './local-invoke.js';
import { createFunctionLogger } from './logger.js';

export const DEFAULT_FUNCTION_NAME = 'easel-gpu';

/** The line a parent process waits for on the child's stdout. */
export const URL_LINE_PREFIX = 'LOCAL_FUNCTION_URL=';

export interface LocalFunctionOptions {
  modelsDir: string;
  /** The name the Lambda client invokes; default `easel-gpu`. */
  functionName?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Jobs run at once; more wait in a queue, as with a function's reserved concurrency. Default 1, one GPU. */
  maxConcurrency?: number;
  logger?: Logger;
}

export async function startLocalFunction(options: LocalFunctionOptions): Promise<LocalInvokeServer> {
  const config = loadFunctionConfig({ ...process.env, MODELS_DIR: options.modelsDir });
  const logger = options.logger ?? createFunctionLogger(config);
  return startLocalInvoke({
    functions: { [options.functionName ?? DEFAULT_FUNCTION_NAME]: createHandler(config, logger) },
    port: options.port ?? 0,
    maxConcurrency: options.maxConcurrency ?? 1,
    logger,
  });
}

async function runAsProcess(env: NodeJS.ProcessEnv): Promise<void> {
  const server = await startLocalFunction({
    modelsDir: env.MODELS_DIR || './models',
    functionName: env.GPU_FUNCTION_NAME || DEFAULT_FUNCTION_NAME,
    port: wholeNumber(env, 'LOCAL_FUNCTION_PORT', 0),
    maxConcurrency: wholeNumber(env, 'LOCAL_FUNCTION_CONCURRENCY', 1),
  });
  process.stdout.write(`${URL_LINE_PREFIX}${server.url}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  return n;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runAsProcess(process.env).catch((error: unknown) => {
    console.error('The local GPU function could not start:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
