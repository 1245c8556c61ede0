import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

/**
 * A local server that speaks the part of the AWS Lambda Invoke API that Easel uses, so the real
 * `@aws-sdk/client-lambda` talks to it unchanged:
 *   POST /2015-03-31/functions/{FunctionName}/invocations
 *   X-Amz-Invocation-Type: RequestResponse (default) | Event | DryRun
 * Request signatures are not checked: it listens on loopback for development and tests.
 */
export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
}

export type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<unknown>;

export interface LocalInvokeOptions {
  functions: Record<string, LambdaHandler>;
  port?: number;
  host?: string;
  /** Like a function's reserved concurrency: more Event invocations wait in a queue, as Lambda's async queue does. */
  maxConcurrency?: number;
  logger?: Logger;
}

export interface LocalInvokeServer {
  url: string;
  /** Stops accepting invocations; resolves once the running ones have finished. */
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024; // Lambda's synchronous payload limit

export async function startLocalInvoke(options: LocalInvokeOptions): Promise<LocalInvokeServer> {
  const { functions, logger } = options;
  const limit = options.maxConcurrency ?? 1;
  let running = 0;
  const waiting: Array<() => void> = [];
  const inFlight = new Set<Promise<unknown>>();

  async function withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  const server = createServer(async (request, response) => {
    const match = request.method === 'POST' ? INVOKE_PATH.exec(request.url?.split('?')[0] ?? '') : null;
    if (!match) return sendError(response, 404, 'UnknownOperationException', `no such operation: ${request.method} ${request.url}`);
    const functionName = decodeURIComponent(match[1]);
    const handler = functions[lastArnPart(functionName)];
    if (!handler) return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${functionName}`);

    let event: unknown;
    try {
      const body = await readBody(request, MAX_PAYLOAD_BYTES);
      event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch (error) {
      return sendError(response, 400, 'InvalidRequestContentException', `could not read the payload: ${(error as Error).message}`);
    }

    const requestId = randomUUID();
    const context: LambdaContext = { awsRequestId: requestId, functionName };
    const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    response.setHeader('x-amzn-requestid', requestId);

    if (invocationType === 'DryRun') return void response.writeHead(204).end();
    if (invocationType === 'Event') {
      track(withSlot(() => handler(event, context))).catch((error: unknown) =>
        logger?.error({ err: error, functionName, requestId }, 'asynchronous invocation failed'),
      );
      return void response.writeHead(202).end();
    }
    if (invocationType !== 'RequestResponse') {
      return sendError(response, 400, 'InvalidParameterValueException', `unknown invocation type: ${invocationType}`);
    }
    try {
      const result = await track(withSlot(() => handler(event, context)));
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
      response.end(JSON.stringify(result ?? null));
    } catch (error) {
      const err = error as Error;
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
      response.end(JSON.stringify({ errorType: err.name ?? 'Error', errorMessage: err.message ?? String(error) }));
    }
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger?.info({ url, functions: Object.keys(functions) }, 'local Lambda Invoke server listening');

  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Accepts a plain name, `name:alias` or a full ARN, as Lambda does. */
function lastArnPart(functionName: string): string {
  const parts = functionName.split(':');
  return parts.length >= 7 ? parts[6] : parts[0];
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  response.end(JSON.stringify({ Type: 'User', message }));
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`payload exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
