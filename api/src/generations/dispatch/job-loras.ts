import type { LoraCatalog, LoraJobFile } from '../../catalog/lora-catalog.js';
import { finishGeneration, type LifecycleServices } from '../events/lifecycle.js';
import type { GenerationDocument } from '../generation.js';

/**
 * The LoRA files of a claimed job, as the catalog has them now: a LoRA replaced since the job was
 * queued runs with its new content. One removed since then ends the job FAILED (LORA_REMOVED,
 * refunded) before the function is invoked; the result is then undefined.
 */
export async function loraFilesOrEnd(services: LifecycleServices, loras: LoraCatalog, job: GenerationDocument): Promise<LoraJobFile[] | undefined> {
  // Generations queued before LoRAs existed have none.
  const { files, removed } = await loras.filesFor((job.settings.loras ?? []).map((lora) => lora.name));
  if (removed.length === 0) return files;
  const names = removed.map((name) => `"${name}"`).join(', ');
  await finishGeneration(
    services,
    job._id,
    { status: 'FAILED', errorCode: 'LORA_REMOVED', error: `The LoRA ${names} was removed from the catalog after this generation was queued. Your tokens were refunded.` },
    { statuses: ['RUNNING'], attempt: job.attempt },
  );
  return undefined;
}
