import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Logger } from 'pino';
import type { GenerationJobRequest } from '@easel/schema';
import type { Config } from '../../config.js';

/** The GPU function as the dispatcher sees it: hand over a job, and learn only whether it was accepted. */
export interface GpuFunction {
  /** Queues the job on the function (an asynchronous `Event` invocation); the job reports back through its callback. */
  invoke(job: GenerationJobRequest): Promise<void>;
  close(): Promise<void>;
}

// Loopback runtimes (the local function, LocalStack) accept any signature; AWS never listens there.
const PLACEHOLDER_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const PLACEHOLDER_REGION = 'us-east-1';

/**
 * The Lambda client for the configured function. With LAMBDA_ENDPOINT it talks to that runtime;
 * without, production talks to AWS itself, and development and tests get the GPU function of
 * gpu-runtime in this process, started the first time a job goes out.
 */
export function createGpuFunction(config: Config, logger: Logger): GpuFunction {
  const { lambdaEndpoint, region, functionName } = config.gpu;
  if (lambdaEndpoint) return lambdaFunction(lambdaClient(lambdaEndpoint, region), functionName);
  if (config.isProduction) return lambdaFunction(new LambdaClient(region ? { region } : {}), functionName);
  return localFunction(config, logger);
}

function lambdaClient(endpoint: string, region: string | undefined): LambdaClient {
  return new LambdaClient({
    endpoint,
    region: region ?? PLACEHOLDER_REGION,
    ...(isLoopback(endpoint) ? { credentials: PLACEHOLDER_CREDENTIALS } : {}),
  });
}

function lambdaFunction(client: LambdaClient, functionName: string): GpuFunction {
  return {
    async invoke(job) {
      const result = await client.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(job)),
        }),
      );
      if (result.StatusCode !== 202) throw new Error(`the function did not accept the job (HTTP ${result.StatusCode})`);
    },
    async close() {
      client.destroy();
    },
  };
}

/** gpu-runtime's function behind a local Invoke server, reached through the same Lambda client. */
function localFunction(config: Config, logger: Logger): GpuFunction {
  let started: Promise<{ gpu: GpuFunction; close(): Promise<void> }> | undefined;
  const start = async () => {
    // Loaded on first use: servers that never dispatch (most tests) do not load onnxruntime.
    const { startLocalFunction } = await import('@easel/gpu-runtime/local-function');
    const server = await startLocalFunction({
      modelsDir: config.modelsDir,
      functionName: config.gpu.functionName,
      maxConcurrency: Math.max(1, config.gpu.concurrency),
      logger: logger.child({ component: 'local-gpu-function' }),
    });
    logger.info({ url: server.url }, 'LAMBDA_ENDPOINT is unset: started the GPU function in this process');
    return { gpu: lambdaFunction(lambdaClient(server.url, PLACEHOLDER_REGION), config.gpu.functionName), close: () => server.close() };
  };
  return {
    async invoke(job) {
      started ??= start().catch((error: unknown) => {
        started = undefined; // let the next job try again
        throw error;
      });
      await (await started).gpu.invoke(job);
    },
    /**
     * Stops taking jobs without waiting for the ones running here: they stay RUNNING in the
     * database, and once their leases expire the next start retries them.
     */
    async close() {
      const running = await started?.catch(() => undefined);
      await running?.gpu.close();
      void running?.close();
    },
  };
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}
