/**
 * The GPU function: one job per invocation, reported to the job's callback URL as it runs.
 *
 *   parse the job -> find the model folder -> fetch the base image (img2img)
 *   -> `started` -> load the model -> denoise, `progress` per step -> `completed` with the PNGs
 *
 * Whatever goes wrong after the callback is known ends in a `failed` event with a stable code, so
 * the API never waits out a lease for a job that could have told it. The callback's answer can
 * say cancel; the pipeline then stops between two steps.
 */
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { FAMILY_ARCHITECTURE, GenerationJob, JOB_CONTRACT_VERSION, LORA_REPORT_EXAMPLES, type LoraReport } from '@easel/schema';
import { CallbackClient } from './callback-client.js';
import { loadFunctionConfig, type FunctionConfig } from './config.js';
import { fetchBaseImage } from './job/base-image.js';
import { describeFailure, JobFailure, type FailureReport } from './job/failure.js';
import { resolveModelDir } from './job/model-dir.js';
import { createFunctionLogger } from './logger.js';
import { loraCache, type AppliedLora } from './models/lora/index.js';
import { resolveLoraFiles } from './job/lora-files.js';
import { GenerationCancelledError } from './pipeline/errors.js';
import { generate, loraChoices, preloadModel } from './pipeline/generate.js';

/** The part of a Lambda context the handler uses; the local Invoke server passes no deadline. */
export interface InvocationContext {
  awsRequestId?: string;
  getRemainingTimeInMillis?: () => number;
}

/** The invocation's result, which a RequestResponse caller sees; the API learns the same from the events. */
export interface JobOutcome {
  jobId: string;
  attempt: number;
  status: 'completed' | 'failed' | 'cancelled';
  code?: string;
}

/** Time kept back from Lambda's limit to stop between steps and still post `failed`. */
const DEADLINE_MARGIN_MS = 10_000;

/** Just enough of a job to report that the rest of it is wrong. */
const ReplyAddress = GenerationJob.pick({ jobId: true, attempt: true, callback: true });

export function createHandler(config: FunctionConfig, logger: Logger) {
  return async function handler(event: unknown, context: InvocationContext = {}): Promise<JobOutcome> {
    const parsed = GenerationJob.safeParse(event);
    if (parsed.success) return runJob(parsed.data, context);

    const reason = invalidJobReason(event, parsed.error);
    const address = ReplyAddress.safeParse(event);
    if (!address.success) throw new Error(`${reason}; it names no usable callback, so nobody can be told`);
    const { jobId, attempt, callback } = address.data;
    logger.warn({ jobId, attempt, reason }, 'invalid job');
    await new CallbackClient({ ...callback, jobId, attempt }).send({ type: 'failed', code: 'INVALID_JOB', reason });
    return { jobId, attempt, status: 'failed', code: 'INVALID_JOB' };
  };

  async function runJob(job: GenerationJob, context: InvocationContext): Promise<JobOutcome> {
    const { jobId, attempt } = job;
    const log = logger.child({ jobId, attempt, model: job.model.id, requestId: context.awsRequestId });
    const startedAt = performance.now();
    const abort = new AbortController();
    const callback = new CallbackClient(
      { url: job.callback.url, secret: job.callback.secret, jobId, attempt },
      { onCancel: () => abort.abort(new JobFailure('CANCELLED', 'the job was cancelled')) },
    );
    const deadline = stopBeforeDeadline(context, abort);
    try {
      const modelDir = await resolveModelDir(config.modelsDir, job.model);
      const baseImage = job.baseImageUrl
        ? await fetchBaseImage(job.baseImageUrl, job.callback.secret, config.baseImage, abort.signal)
        : undefined;
      await callback.send({ type: 'started' });
      abort.signal.throwIfAborted();

      const loadStart = performance.now();
      const loraFiles = await resolveLoraFiles(config.lorasDir, job.loraFiles);
      // Loads the model (and merges the LoRAs) now, so the timings tell loading from denoising.
      const lease =
        FAMILY_ARCHITECTURE[job.model.family] === 'flux'
          ? await preloadModel(modelDir, job.model.family, { logger: log }).then(() => undefined)
          : await loraCache.acquire(modelDir, loraChoices(job.settings, loraFiles), log);
      lease?.release();
      if (lease && lease.loras.length > 0) {
        const loras = lease.loras.map(({ name, hash, applied, unmatched }) => ({ name, hash, applied, unmatched: unmatched.length }));
        log.info({ loras, switchMs: Math.round(lease.switchMs), cacheHit: lease.cacheHit }, 'LoRAs applied');
        for (const { name, unmatched } of lease.loras) if (unmatched.length > 0) log.warn({ lora: name, unmatched }, 'LoRA keys that match nothing in the model');
      }
      const inferenceStart = performance.now();
      const images = await generate(
        { ...job.settings, modelDir, model: job.model, baseImage, loraFiles },
        {
          signal: abort.signal,
          // Not awaited: the callback client queues events, so the loop never waits on the network.
          onProgress: ({ step, totalSteps, previewWebp }) => {
            callback
              .send({ type: 'progress', step, totalSteps, previewWebp: previewWebp?.toString('base64') })
              .catch((error: unknown) => log.warn({ err: error, step }, 'a progress event could not be delivered'));
          },
        },
      );
      const done = performance.now();
      await callback.send({
        type: 'completed',
        images: images.map(({ png, seed, width, height }) => ({ png: png.toString('base64'), seed, width, height })),
        timings: {
          loadMs: Math.round(inferenceStart - loadStart),
          ...(lease && lease.loras.length > 0 ? { loraMs: Math.round(lease.switchMs) } : {}),
          inferenceMs: Math.round(done - inferenceStart),
          totalMs: Math.round(done - startedAt),
        },
        ...(lease && lease.loras.length > 0 ? { loras: lease.loras.map(loraReport) } : {}),
      });
      log.info({ ms: Math.round(done - startedAt), images: images.length }, 'job completed');
      return { jobId, attempt, status: 'completed' };
    } catch (error) {
      // When the job was aborted, the abort's reason (cancel, deadline) says why; the pipeline says when.
      const failure = describeFailure(abort.signal.aborted ? abort.signal.reason : error);
      if (abort.signal.aborted && error instanceof GenerationCancelledError) failure.reason += ` (${error.message})`;
      await reportFailure(callback, failure, error, log);
      return { jobId, attempt, status: failure.code === 'CANCELLED' ? 'cancelled' : 'failed', code: failure.code };
    } finally {
      clearTimeout(deadline);
      await callback.flush();
    }
  }
}

/** A LoRA's outcome for the completed event: its unmatched keys counted, the first few named. */
function loraReport({ name, applied, unmatched }: AppliedLora): LoraReport {
  return { name, applied, unmatchedCount: unmatched.length, unmatchedExamples: unmatched.slice(0, LORA_REPORT_EXAMPLES).map((key) => key.slice(0, 500)) };
}

async function reportFailure(callback: CallbackClient, failure: FailureReport, error: unknown, log: Logger): Promise<void> {
  if (failure.code === 'INTERNAL_ERROR') log.error({ err: error }, 'job failed');
  else log.info({ code: failure.code, reason: failure.reason }, 'job did not complete');
  try {
    await callback.send({ type: 'failed', ...failure });
  } catch (deliveryError) {
    // Nobody can be told: fail the invocation, so the platform records it; the API's lease covers the job.
    throw new Error(`job failed (${failure.code}: ${failure.reason}) and the callback could not be told`, { cause: deliveryError });
  }
}

/** On Lambda, aborts the job shortly before the platform would kill it mid-step and silently. */
function stopBeforeDeadline(context: InvocationContext, abort: AbortController): NodeJS.Timeout | undefined {
  const remaining = context.getRemainingTimeInMillis?.();
  if (remaining === undefined) return undefined;
  const timer = setTimeout(
    () => abort.abort(new JobFailure('TIMEOUT', 'the job ran into the GPU function\'s time limit; try fewer steps, a smaller size or a smaller batch')),
    Math.max(0, remaining - DEADLINE_MARGIN_MS),
  );
  timer.unref();
  return timer;
}

function invalidJobReason(event: unknown, error: ZodError): string {
  const version = (event as { version?: unknown } | null)?.version;
  if (version !== undefined && version !== JOB_CONTRACT_VERSION) {
    return `the job uses contract version ${JSON.stringify(version)}, but this GPU function speaks version ${JOB_CONTRACT_VERSION}: deploy matching versions of the API and the function`;
  }
  return `the job is invalid: ${error.issues.map((issue) => `${issue.path.join('.') || 'job'}: ${issue.message}`).join('; ')}`;
}

let defaultHandler: ReturnType<typeof createHandler> | undefined;

/** The Lambda entry point (`gpu-runtime/dist/handler.handler`), configured from the environment. */
export const handler = (event: unknown, context?: InvocationContext): Promise<JobOutcome> => {
  if (!defaultHandler) {
    const config = loadFunctionConfig();
    defaultHandler = createHandler(config, createFunctionLogger(config));
  }
  return defaultHandler(event, context);
};
