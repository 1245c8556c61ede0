/**
 * The conditioning of each model call, as A1111 gives it: the prompt split at AND
 * (get_multicond_prompt_list), each part and the negative prompt scheduled over the steps
 * (prompt editing, alternation: get_learned_conditioning_prompt_schedules), and at call n the
 * first schedule entry whose step is not below n (reconstruct_cond_batch). Second-order samplers
 * schedule over twice the steps, as A1111's total_steps does. Each combination of texts is
 * encoded and converted for the UNet once, the first time a call needs it.
 */
import { promptSchedule, scheduledAt, SECOND_ORDER_SAMPLERS, splitSubprompts, type SamplerId } from '@easel/schema';
import type { LoadedModel } from '../models/index.js';
import { prepareConditioning, type PreparedConditioning } from './cfg.js';
import { encodePrompts } from './conditioning.js';

export interface ConditioningScheduleRequest {
  prompt: string;
  negativePrompt: string;
  /** The steps the schedule is written against, from scheduleSteps(): the generation's, or the first pass's for a hires pass. */
  steps: number;
  /** A hires pass: its own scheduleSteps(), counted on from the first pass's (see promptSchedule). */
  hiresSteps?: number;
  cfgScale: number;
  clipSkip: number;
  batchSize: number;
  width: number;
  height: number;
  padConds: boolean;
}

/** A1111's total_steps: the steps a sampler's prompt schedule is written against. */
export function scheduleSteps(sampler: SamplerId, steps: number): number {
  return SECOND_ORDER_SAMPLERS.has(sampler) ? 2 * steps : steps;
}

export function scheduledConditioning(model: LoadedModel, request: ConditioningScheduleRequest): (call: number) => Promise<PreparedConditioning> {
  const { steps, hiresSteps } = request;
  const parts = splitSubprompts(request.prompt).map((part) => ({ weight: part.weight, schedule: promptSchedule(part.text, steps, { hiresSteps }) }));
  const negative = promptSchedule(request.negativePrompt, steps, { hiresSteps });
  const prepared = new Map<string, Promise<PreparedConditioning>>();

  return (call) => {
    const prompts = parts.map((part) => ({ text: scheduledAt(part.schedule, call).prompt, weight: part.weight }));
    const negativePrompt = scheduledAt(negative, call).prompt;
    const key = JSON.stringify([prompts, negativePrompt]);
    let conditioning = prepared.get(key);
    if (!conditioning) {
      conditioning = encodePrompts(model, { ...request, prompts, negativePrompt }).then((encoding) => prepareConditioning(model, encoding, request.cfgScale));
      prepared.set(key, conditioning);
    }
    return conditioning;
  };
}
