import type { LoraReport } from '@easel/schema';
import type { GenerationWarning } from '../generation.js';

/**
 * What a completed job's LoRA reports mean to the user: a LoRA whose keys partly matched the
 * model was applied without them (as A1111 does), which changes the image less than its author
 * meant. One warning per such LoRA, its keys counted and the first few named.
 */
export function loraWarnings(reports: readonly LoraReport[] = []): GenerationWarning[] {
  return reports
    .filter((report) => report.unmatchedCount > 0)
    .map(({ name, applied, unmatchedCount, unmatchedExamples }) => {
      const more = unmatchedCount > unmatchedExamples.length ? `, and ${unmatchedCount - unmatchedExamples.length} more` : '';
      return {
        code: 'LORA_KEYS_UNMATCHED',
        message:
          `${unmatchedCount} ${unmatchedCount === 1 ? 'key' : 'keys'} of the LoRA "${name}" matched nothing in this model and changed nothing ` +
          `(${applied} ${applied === 1 ? 'layer' : 'layers'} applied): ${unmatchedExamples.join('; ')}${more}.`,
      };
    });
}
