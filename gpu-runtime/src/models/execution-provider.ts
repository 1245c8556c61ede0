import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { GpuUnavailableError } from './errors.js';

/**
 * Where the sessions run. CUDA is tried when onnxruntime's CUDA provider library is installed (the
 * GPU image installs it; the npm package alone ships CPU only), and a failure to start it (no GPU,
 * missing cuDNN) falls back to the CPU with a warning instead of failing every job.
 *
 * EASEL_EXECUTION_PROVIDER: `auto` (default), `cpu` to force the CPU, `cuda` to require CUDA (a
 * GpuUnavailableError when it cannot be used).
 */
export type ExecutionProvider = 'cuda' | 'cpu';

type ProviderSetting = 'auto' | ExecutionProvider;

function providerSetting(env: NodeJS.ProcessEnv): ProviderSetting {
  const value = (env.EASEL_EXECUTION_PROVIDER ?? 'auto').trim().toLowerCase();
  if (value === 'auto' || value === 'cpu' || value === 'cuda') return value;
  throw new Error(`EASEL_EXECUTION_PROVIDER must be auto, cpu or cuda, not ${JSON.stringify(value)}`);
}

const CUDA_LIBRARY = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';

/** Asking onnxruntime for CUDA without its library prints a native error; look for the file first. */
function cudaLibraryInstalled(): boolean {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return existsSync(path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch, CUDA_LIBRARY));
}

const OTHER_SETTINGS = 'or set EASEL_EXECUTION_PROVIDER=auto (CUDA when it works, else the CPU) or cpu';

function cudaNotInstalled(): GpuUnavailableError {
  return new GpuUnavailableError(
    `EASEL_EXECUTION_PROVIDER=cuda but onnxruntime's CUDA provider (${CUDA_LIBRARY}) is not installed: install the CUDA 12 build of ` +
      `onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js, as gpu-runtime/Dockerfile does), ${OTHER_SETTINGS}`,
  );
}

function cudaFailed(file: string, cudaError: unknown): GpuUnavailableError {
  return new GpuUnavailableError(
    `EASEL_EXECUTION_PROVIDER=cuda but CUDA could not be used for ${file}, which the CPU opens (${(cudaError as Error).message}): ` +
      `check the GPU, its driver and the CUDA 12 / cuDNN 9 libraries, ${OTHER_SETTINGS}`,
    { cause: cudaError },
  );
}

/** Decided once per process: after CUDA fails to start, every later session goes straight to the CPU. */
let cudaUnavailable = false;

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

/** A model given as bytes, its external data files as buffers (LoRA-merged weights); `file` then only names it. */
export interface InMemoryModel {
  model: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
}

export async function openSession(file: string, logger?: Logger, env: NodeJS.ProcessEnv = process.env, inMemory?: InMemoryModel): Promise<OpenedSession> {
  const setting = providerSetting(env);
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', externalData: inMemory?.externalData };
  const create = (opts: ort.InferenceSession.SessionOptions) => (inMemory ? ort.InferenceSession.create(inMemory.model, opts) : ort.InferenceSession.create(file, opts));
  if (setting === 'cuda' && !cudaLibraryInstalled()) throw cudaNotInstalled();
  const tryCuda = setting === 'cuda' || (setting === 'auto' && !cudaUnavailable && cudaLibraryInstalled());
  if (!tryCuda) return { session: await create({ ...options, executionProviders: ['cpu'] }), provider: 'cpu' };
  try {
    // 'cpu' after 'cuda' lets onnxruntime place the few ops CUDA lacks on the CPU.
    return { session: await create({ ...options, executionProviders: ['cuda', 'cpu'] }), provider: 'cuda' };
  } catch (cudaError) {
    // If the CPU opens the file, CUDA was the problem (a bad model fails both ways and says so).
    const session = await create({ ...options, executionProviders: ['cpu'] });
    if (setting === 'cuda') {
      await session.release();
      throw cudaFailed(file, cudaError);
    }
    cudaUnavailable = true;
    logger?.warn({ err: cudaError }, 'the CUDA execution provider failed to start; running models on the CPU');
    return { session, provider: 'cpu' };
  }
}
