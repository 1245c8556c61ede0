import path from 'node:path';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { analyzedSchedule, analyzePromptsInTurns, checkPromptLength } from '../../prompts/analyze-prompt.js';
import { takeTurn } from '../../prompts/cpu-turns.js';
import { analyzeLoras } from '../../prompts/lora-warnings.js';
import { cleanPromptText } from '../../prompts/prompt-text.js';
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
    @Ctx() { user, services }: GraphQLContext,
    @Arg('modelId', () => ID, { description: 'Id or slug.' }) modelId: string,
    @Arg('prompt') prompt: string,
    @Arg('negativePrompt', () => String, { nullable: true }) negativePrompt?: string | null,
  ): Promise<PromptAnalysis> {
    // Refuse oversize input before any work on it.
    checkPromptLength('prompt', prompt);
    if (negativePrompt != null) checkPromptLength('negativePrompt', negativePrompt);
    await services.rateLimits.consume('analyze', user!.id);

    const { catalog, config, logger } = services;
    const model = await catalog.get(modelId);
    const [preset, installed] = await Promise.all([catalog.preset(model.family), catalog.isInstalled(model)]);
    const modelDir = path.join(config.modelsDir, model.path);
    const counter = await tokenCounterFor(modelDir, installed, logger);
    const t5 = model.family === 'FLUX' ? { counter: await t5TokenCounterFor(modelDir, installed, logger), limit: t5TokenLimit(model) } : undefined;
    // As generateImage will read them: control characters removed, lone surrogates refused.
    const prompts = {
      prompt: cleanPromptText('prompt', prompt),
      negativePrompt: negativePrompt == null ? negativePrompt : cleanPromptText('negativePrompt', negativePrompt),
    };
    // One prompt per turn of the event loop: the fields of one request (up to the cost budget's
    // worth) take turns with every other request instead of running back to back.
    const analysis = await analyzePromptsInTurns(model, preset, counter, prompts, takeTurn, t5);
    const positive = await analyzeLoras(services.loras, model, prompts.prompt, false);
    const negative = prompts.negativePrompt == null ? undefined : await analyzeLoras(services.loras, model, prompts.negativePrompt, true);
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
