import path from 'node:path';
import { FAMILY_ARCHITECTURE } from '@easel/schema';
import type { CatalogModel } from '../../catalog/catalog.js';
import { fluxPromptEffects } from '../../prompts/analyze-prompt.js';
import { t5TokenCounterFor, t5TokenLimit } from '../../prompts/t5-token-counter.js';
import type { Services } from '../../services.js';
import type { GenerationWarning } from '../generation.js';

/**
 * The warnings a generation starts with: what the model will do with its final prompt that the
 * writer may not expect, as analyzePrompt tells them (Flux reads `(word:1.3)` as `word` and cuts
 * a prompt T5 cannot hold). The GPU function's warnings are added to these when it ends.
 */
export async function promptEffects(services: Pick<Services, 'catalog' | 'config' | 'logger'>, model: CatalogModel, prompt: string): Promise<GenerationWarning[]> {
  if (FAMILY_ARCHITECTURE[model.family] !== 'flux') return [];
  const modelDir = path.join(services.config.modelsDir, model.path);
  const counter = await t5TokenCounterFor(modelDir, await services.catalog.isInstalled(model), services.logger);
  return fluxPromptEffects(prompt, { counter, limit: t5TokenLimit(model) }).map(({ code, message }) => ({ code, message }));
}
