import path from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable the GPU function reads, parsed once at its first invocation. A bad
 * value fails that invocation with a message naming the variable, instead of surfacing later as
 * a puzzling job failure.
 */
export const FUNCTION_ENVIRONMENT = z.object({
  MODELS_DIR: z.string().min(1).default('./models').describe('Folder of ONNX models; a job names a folder inside it.'),
  LORAS_DIR: z.string().min(1).optional().describe('Folder of LoRA .safetensors files; a job names files inside it. Default: MODELS_DIR/loras.'),
  // Read by models/lora/lora-cache.ts; checked here so that a typo fails the first invocation.
  EASEL_LORA_CACHE_MB: z.coerce
    .number()
    .min(0)
    .default(4096)
    .describe('Memory for sessions with merged LoRAs, per process; past it the least recently used sets are released.'),
  // Read by models/execution-provider.ts when a session opens; checked here so that a typo fails
  // the first invocation with this message rather than the first model load.
  EASEL_EXECUTION_PROVIDER: z
    .enum(['auto', 'cpu', 'cuda'])
    .default('auto')
    .describe('Where onnxruntime runs the models: `auto` tries CUDA and falls back to the CPU; `cpu` or `cuda` insist.'),
  // Read by models/flux/flux-model.ts when a Flux model loads; checked here for the same reason.
  EASEL_MODEL_MEMORY_MB: z.coerce
    .number()
    .positive()
    .optional()
    .describe('Flux: device memory the model may take; above it, components load one stage at a time. Unset: all stay loaded.'),
  BASE_IMAGE_MAX_BYTES: z.coerce
    .number()
    .int('must be a whole number')
    .min(1)
    .default(16 * 1024 * 1024)
    .describe('Largest img2img base image the function downloads.'),
  BASE_IMAGE_TIMEOUT_MS: z.coerce
    .number()
    .int('must be a whole number')
    .min(1)
    .default(30_000)
    .describe('How long the base image download may take.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level of the function.'),
});

export interface FunctionConfig {
  /** Absolute, so a job's folder is checked against it after resolving. */
  modelsDir: string;
  /** Absolute. */
  lorasDir: string;
  baseImage: { maxBytes: number; timeoutMs: number };
  logLevel: z.infer<typeof FUNCTION_ENVIRONMENT>['LOG_LEVEL'];
}

export function loadFunctionConfig(env: Record<string, string | undefined> = process.env): FunctionConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = FUNCTION_ENVIRONMENT.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new Error(`Invalid GPU function environment:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  return {
    modelsDir: path.resolve(e.MODELS_DIR),
    lorasDir: path.resolve(e.LORAS_DIR ?? path.join(e.MODELS_DIR, 'loras')),
    baseImage: { maxBytes: e.BASE_IMAGE_MAX_BYTES, timeoutMs: e.BASE_IMAGE_TIMEOUT_MS },
    logLevel: e.LOG_LEVEL,
  };
}
