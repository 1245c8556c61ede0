import { extractLoraTags, type ModelFamily } from '@easel/schema';
import type { LoraCatalog } from '../catalog/lora-catalog.js';
import { PromptWarningCode, warning, type PromptWarning } from './warnings.js';

/** A `<lora:…>` tag of the prompt, as analyzePrompt reports it. */
export interface PromptLora {
  name: string;
  /** As written; null when the tag gives none (the LoRA's default weight applies). */
  weight: number | null;
  unetWeight: number | null;
  /** Whether the LoRA catalog has it. */
  known: boolean;
  triggerWords: string[];
}

const words = (text: string) => text.toLowerCase().replace(/[_()[\]{}]/g, ' ').replace(/\s+/g, ' ');

/**
 * The prompt's LoRA tags and what is wrong with them: unknown names, LoRAs made for another
 * family, trigger words missing from the prompt, tags that cannot be read, and tags in a negative
 * prompt (which apply nothing). generateImage refuses the first two; the rest are advice.
 */
export async function analyzeLoras(catalog: LoraCatalog, model: { name: string; family: ModelFamily }, text: string, isNegative: boolean): Promise<{ loras: PromptLora[]; warnings: PromptWarning[] }> {
  const { tags, problems, text: seen } = extractLoraTags(text);
  const warnings = problems.map((problem) => warning(PromptWarningCode.LORA_UNREADABLE, problem.message, { start: problem.start, end: problem.end }));
  const loras: PromptLora[] = [];
  for (const tag of tags) {
    const where = { start: tag.start, end: tag.end };
    const lora = await catalog.find(tag.name);
    loras.push({ name: tag.name, weight: tag.weight ?? null, unetWeight: tag.unetWeight ?? null, known: lora !== undefined, triggerWords: lora?.triggerWords ?? [] });
    if (isNegative) {
      warnings.push(warning(PromptWarningCode.LORA_IN_NEGATIVE, `<lora:${tag.name}> in a negative prompt applies nothing; LoRAs go in the prompt.`, { ...where, replacement: '' }));
    } else if (!lora) {
      warnings.push(warning(PromptWarningCode.LORA_UNKNOWN, `No LoRA "${tag.name}" in the catalog; a generation with it is refused.`, { ...where, suggestion: 'Pick one from the loras query.' }));
    } else if (!lora.families.includes(model.family)) {
      warnings.push(
        warning(PromptWarningCode.LORA_WRONG_FAMILY, `The LoRA "${lora.name}" is for ${lora.families.join(', ')} models, and ${model.name} is ${model.family}; a generation with it is refused.`, where),
      );
    } else if (lora.triggerWords.length > 0 && !lora.triggerWords.some((word) => words(seen).includes(words(word).trim()))) {
      warnings.push(
        warning(PromptWarningCode.LORA_TRIGGER_MISSING, `The LoRA "${lora.name}" responds to ${lora.triggerWords.map((w) => `"${w}"`).join(', ')}, and the prompt has none of them.`, {
          ...where,
          suggestion: `Add "${lora.triggerWords[0]}" to the prompt.`,
        }),
      );
    }
  }
  return { loras, warnings };
}
