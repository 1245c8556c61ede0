import { extractLoraTags, formatLoraTag, LoraSetting, MAX_LORAS } from '@easel/schema';
import type { CatalogModel } from '../../catalog/catalog.js';
import type { CatalogLora, LoraCatalog } from '../../catalog/lora-catalog.js';
import { InvalidInputError, type InvalidField } from '../../errors.js';

/** A LoRA asked for in the `loras` field; the weight defaults to the LoRA's own. */
export interface RequestedLora {
  name: string;
  weight?: number;
  unetWeight?: number;
}

export interface ResolvedLoras {
  /** The final prompt, with a `<lora:…>` tag appended for each LoRA of the field, so the infotext names them all as A1111 does. */
  prompt: string;
  loras: LoraSetting[];
}

/**
 * The generation's LoRAs, from the prompt's `<lora:name:weight>` tags and the `loras` field:
 * each must be in the LoRA catalog, made for the model's family and installed. Throws
 * InvalidInputError naming every problem at once; nothing is stored or charged before.
 */
export async function resolveLoras(catalog: LoraCatalog, model: CatalogModel, prompt: string, requested: readonly RequestedLora[] = []): Promise<ResolvedLoras> {
  const problems: InvalidField[] = [];
  const { tags, problems: syntax } = extractLoraTags(prompt);
  for (const problem of syntax) problems.push({ field: 'prompt', message: problem.message });
  const wanted = [...tags.map((tag) => ({ ...tag, field: 'prompt' })), ...requested.map((lora) => ({ ...lora, field: 'loras' }))];
  const seen = new Set<string>();
  const loras: LoraSetting[] = [];
  let finalPrompt = prompt;
  for (const want of wanted) {
    if (seen.has(want.name)) {
      problems.push({ field: want.field, message: `the LoRA "${want.name}" is named twice; give it once, with one weight` });
      continue;
    }
    seen.add(want.name);
    const lora = await catalog.find(want.name);
    const problem = lora ? await unusable(catalog, lora, model) : `no LoRA "${want.name}" in the catalog (the loras query lists them)`;
    if (problem || !lora) {
      problems.push({ field: want.field, message: problem! });
      continue;
    }
    const setting = LoraSetting.safeParse({ name: lora.name, weight: want.weight ?? lora.defaultWeight, unetWeight: want.unetWeight ?? undefined });
    if (!setting.success) {
      problems.push({ field: want.field, message: `the weights of "${lora.name}" must be between -10 and 10` });
      continue;
    }
    loras.push(setting.data);
    if (want.field === 'loras') finalPrompt = `${finalPrompt} ${formatLoraTag(setting.data)}`.trim();
  }
  if (loras.length > MAX_LORAS) problems.push({ field: 'loras', message: `at most ${MAX_LORAS} LoRAs per generation` });
  if (problems.length > 0) throw new InvalidInputError(`Invalid input: ${problems.map((p) => p.message).join('; ')}.`, problems);
  return { prompt: finalPrompt, loras };
}

async function unusable(catalog: LoraCatalog, lora: CatalogLora, model: CatalogModel): Promise<string | undefined> {
  if (!lora.families.includes(model.family)) {
    return `the LoRA "${lora.name}" is for ${lora.families.join(', ')} models, and ${model.name} is ${model.family}`;
  }
  if (!(await catalog.isInstalled(lora))) return `the LoRA "${lora.name}" is in the catalog but its file is not installed on this server`;
  return undefined;
}
