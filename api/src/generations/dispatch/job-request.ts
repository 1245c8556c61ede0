import { JOB_CONTRACT_VERSION, type GenerationJobRequest } from '@easel/schema';
import type { GenerationDocument } from '../generation.js';

/** Where the GPU function reports a job's events: `<base>/callbacks/generations/<id>`. */
export const CALLBACK_ROUTE = '/callbacks/generations';

export const callbackUrl = (base: string, generationId: string) => `${base}${CALLBACK_ROUTE}/${generationId}`;

/** The job's img2img base image, signed for like a callback. */
export const baseImageUrl = (base: string, generationId: string) => `${callbackUrl(base, generationId)}/base-image`;

/**
 * The job the GPU function receives for a claimed generation: the final prompts (after the
 * enhancer), the stored settings (checked against the contract when the generation was created),
 * the files of its LoRAs as the catalog has them at dispatch (job-loras.ts) and this attempt's secret. The function parses it on arrival.
 */
export function jobRequest(generation: GenerationDocument, callbackBase: string, loraFiles: GenerationJobRequest['loraFiles']): GenerationJobRequest {
  const id = String(generation._id);
  return {
    version: JOB_CONTRACT_VERSION,
    jobId: id,
    attempt: generation.attempt,
    model: { id: generation.model.id, name: generation.model.name, family: generation.model.family, path: generation.model.path },
    settings: { ...generation.settings, prompt: generation.finalPrompt, negativePrompt: generation.finalNegativePrompt },
    loraFiles,
    ...(generation.baseImageId ? { baseImageUrl: baseImageUrl(callbackBase, id) } : {}),
    callback: { url: callbackUrl(callbackBase, id), secret: generation.jobSecret! },
  };
}
