import { GenerationJob, JOB_CONTRACT_VERSION } from '@easel/schema';
import type { GenerationDocument } from '../generation.js';

/** Where the GPU function reports a job's events: `<base>/callbacks/generations/<id>`. */
export const CALLBACK_ROUTE = '/callbacks/generations';

export const callbackUrl = (base: string, generationId: string) => `${base}${CALLBACK_ROUTE}/${generationId}`;

/** The job's img2img base image, signed for like a callback. */
export const baseImageUrl = (base: string, generationId: string) => `${callbackUrl(base, generationId)}/base-image`;

/**
 * The job the GPU function receives for a claimed generation: the final prompts (after the
 * enhancer), the stored settings and this attempt's secret. Parsed with the contract's schema
 * before it leaves, so a job the function would refuse fails here, with the reason.
 */
export function jobRequest(generation: GenerationDocument, callbackBase: string): GenerationJob {
  const id = String(generation._id);
  const { settings } = generation;
  return GenerationJob.parse({
    version: JOB_CONTRACT_VERSION,
    jobId: id,
    attempt: generation.attempt,
    model: { id: generation.model.id, name: generation.model.name, family: generation.model.family, path: generation.model.path },
    settings: {
      prompt: generation.finalPrompt,
      negativePrompt: generation.finalNegativePrompt,
      width: settings.width,
      height: settings.height,
      steps: settings.steps,
      cfgScale: settings.cfgScale,
      sampler: settings.sampler,
      schedule: settings.schedule,
      clipSkip: settings.clipSkip,
      seed: settings.seed,
      batchSize: settings.batchSize,
      denoiseStrength: settings.denoiseStrength,
    },
    ...(generation.baseImageId ? { baseImageUrl: baseImageUrl(callbackBase, id) } : {}),
    callback: { url: callbackUrl(callbackBase, id), secret: generation.jobSecret },
  });
}
