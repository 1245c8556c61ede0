import type { LoraCatalog, LoraJobFile } from '../../catalog/lora-catalog.js';
import { finishGeneration, type LifecycleServices } from '../events/lifecycle.js';
import type { GenerationDocument } from '../generation.js';

/**
 * The LoRA files of a claimed job, as the catalog has them now: a LoRA replaced since the job was
 * queued runs with its new content. One removed since then ends the job FAILED (LORA_REMOVED), one
 * whose file cannot be read ends it FAILED (LORA_INVALID, as the function would), both refunded,
 * before the function is invoked; the result is then undefined.
 */
export async function loraFilesOrEnd(services: LifecycleServices, loras: LoraCatalog, job: GenerationDocument): Promise<LoraJobFile[] | undefined> {
  // Generations queued before LoRAs existed have none.
  const { files, removed, unreadable } = await loras.filesFor((job.settings.loras ?? []).map((lora) => lora.name));
  const end = (errorCode: string, error: string) =>
    finishGeneration(services, job._id, { status: 'FAILED', errorCode, error: `${error} Your tokens were refunded.` }, { statuses: ['RUNNING'], attempt: job.attempt });
  if (removed.length > 0) {
    await end('LORA_REMOVED', `The LoRA ${removed.map((name) => `"${name}"`).join(', ')} was removed from the catalog after this generation was queued.`);
  } else if (unreadable.length > 0) {
    await end('LORA_INVALID', `The LoRA ${unreadable.map(({ name, reason }) => `"${name}" (${reason})`).join(', ')} cannot be used.`);
  } else {
    return files;
  }
  return undefined;
}
