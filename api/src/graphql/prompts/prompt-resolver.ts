import path from 'node:path';
import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import { analyzePromptsInTurns, checkPromptLength } from '../../prompts/analyze-prompt.js';
import { takeTurn } from '../../prompts/cpu-turns.js';
import { cleanPromptText } from '../../prompts/prompt-text.js';
import { tokenCounterFor } from '../../prompts/token-counter.js';
import type { GraphQLContext } from '../context.js';
import { PromptAnalysis } from './prompt-types.js';

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
    const counter = await tokenCounterFor(path.join(config.modelsDir, model.path), installed, logger);
    // As generateImage will read them: control characters removed, lone surrogates refused.
    const prompts = {
      prompt: cleanPromptText('prompt', prompt),
      negativePrompt: negativePrompt == null ? negativePrompt : cleanPromptText('negativePrompt', negativePrompt),
    };
    // One prompt per turn of the event loop: the fields of one request (up to the cost budget's
    // worth) take turns with every other request instead of running back to back.
    return analyzePromptsInTurns(model, preset, counter, prompts, takeTurn);
  }
}
