import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '../../src/models/index.js';
import * as conditioning from '../../src/pipeline/conditioning.js';
import { scheduledConditioning, scheduleSteps } from '../../src/pipeline/prompt-schedule.js';
import { tinyModels, type TinyModels } from './fixtures.js';

let models: TinyModels;
beforeAll(async () => {
  models = await tinyModels();
});
afterAll(() => models.cleanup());

// Reference: A1111's reconstruct_cond_batch (the first entry with call <= end_at_step, calls
// counted from 0) over get_learned_conditioning_prompt_schedules, and get_multicond_prompt_list.
describe('the conditioning of each model call', () => {
  it('switches at the steps A1111 switches, per AND part and for the negative prompt, encoding each combination once', async () => {
    const model = await loadModel(models.dirs.sd15);
    const encode = vi.spyOn(conditioning, 'encodePrompts');
    const at = scheduledConditioning(model, {
      prompt: 'a [cat:dog:2] AND a bird :0.5',
      negativePrompt: '[ugly|blurry]',
      steps: 4,
      cfgScale: 7,
      clipSkip: 1,
      batchSize: 1,
      width: 64,
      height: 64,
      padConds: false,
    });
    const calls = await Promise.all([0, 1, 2, 3].map((call) => at(call)));
    expect(calls[0].weights).toEqual([1, 0.5]);
    // Calls 0 and 1: "a cat", "ugly"; call 2: "a cat", "blurry"; call 3: "a dog", "ugly".
    expect(calls[1]).toBe(calls[0]);
    expect(new Set(calls).size).toBe(3);
    const texts = encode.mock.calls.map(([, request]) => [request.prompts.map((part) => part.text), request.negativePrompt]);
    expect(texts).toEqual([
      [['a cat', ' a bird'], 'ugly'],
      [['a cat', ' a bird'], 'blurry'],
      [['a dog', ' a bird'], 'ugly'],
    ]);
    encode.mockRestore();
  });

  it('schedules second-order samplers over twice the steps, as A1111 total_steps does', () => {
    expect(scheduleSteps('heun', 10)).toBe(20);
    expect(scheduleSteps('dpmpp_sde', 10)).toBe(20);
    // A1111 1.9+ marks these second_order too (their Karras entries already were before the
    // sampler and schedule were split).
    for (const sampler of ['dpm2', 'dpm2_a', 'dpmpp_2s_a', 'restart'] as const) expect(scheduleSteps(sampler, 10)).toBe(20);
    expect(scheduleSteps('dpmpp_2m', 10)).toBe(10);
    expect(scheduleSteps('euler_a', 10)).toBe(10);
  });
});
