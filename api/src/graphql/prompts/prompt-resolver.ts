import path from 'node:path';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { analyzedSchedule, analyzePrompts, checkPromptLength } from '../../prompts/analyze-prompt.js';
import { analyzeLoras } from '../../prompts/lora-warnings.js';
import { t5TokenCounterFor, t5TokenLimit } from '../../prompts/t5-token-counter.js';
import type { PromptWarning } from '../../prompts/warnings.js';
import { tokenCounterFor } from '../../prompts/token-counter.js';
import type { GraphQLContext } from '../context.js';
import { AnalyzedPrompt, PromptAnalysis, PromptScheduleEntry } from './prompt-types.js';

@Resolver()
export class PromptResolver {
  @Authorized()
  @Query(() => PromptAnalysis, {
    description: "A prompt as the model reads it: weighted segments, token count, warnings, and the enhancer's version.",
  })
  async analyzePrompt(
    @Ctx() { services }: GraphQLContext,
    @Arg('modelId', () => ID, { description: 'Id or slug.' }) modelId: string,
    @Arg('prompt') prompt: string,
    @Arg('negativePrompt', () => String, { nullable: true }) negativePrompt?: string | null,
  ): Promise<PromptAnalysis> {
    // Refuse oversize input before any work on it.
    checkPromptLength('prompt', prompt);
    if (negativePrompt != null) checkPromptLength('negativePrompt', negativePrompt);

    const { catalog, config, logger } = services;
    const model = await catalog.get(modelId);
    const [preset, installed] = await Promise.all([catalog.preset(model.family), catalog.isInstalled(model)]);
    const modelDir = path.join(config.modelsDir, model.path);
    const counter = await tokenCounterFor(modelDir, installed, logger);
    const t5 = model.family === 'FLUX' ? { counter: await t5TokenCounterFor(modelDir, installed, logger), limit: t5TokenLimit(model) } : undefined;
    const analysis = analyzePrompts(model, preset, counter, { prompt, negativePrompt }, t5);
    const positive = await analyzeLoras(services.loras, model, prompt, false);
    const negative = negativePrompt == null ? undefined : await analyzeLoras(services.loras, model, negativePrompt, true);
    const withWarnings = <T extends { warnings: PromptWarning[] }>(part: T, more: PromptWarning[]): T => ({
      ...part,
      warnings: [...part.warnings, ...more].sort((a, b) => (a.start ?? Infinity) - (b.start ?? Infinity)),
    });
    return {
      ...analysis,
      prompt: withWarnings(analysis.prompt, positive.warnings),
      negativePrompt: analysis.negativePrompt && withWarnings(analysis.negativePrompt, negative?.warnings ?? []),
      loras: positive.loras,
    };
  }
}

@Resolver(() => AnalyzedPrompt)
export class AnalyzedPromptResolver {
  @FieldResolver(() => [PromptScheduleEntry], {
    description:
      "What the model reads at each step: prompt editing ([from:to:when]) and alternation ([a|b]) resolved for this many steps, exactly as A1111's get_learned_conditioning_prompt_schedules. One entry when the prompt uses neither.",
  })
  schedule(
    @Root() prompt: AnalyzedPrompt,
    @Arg('steps', () => Int) steps: number,
  ): PromptScheduleEntry[] {
    return analyzedSchedule(prompt, steps);
  }
}
