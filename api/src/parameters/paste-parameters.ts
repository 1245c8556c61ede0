/**
 * Pasting parameters: an A1111, Forge or Civitai infotext (or the PNG that carries one) read into
 * the settings generateImage takes, samplers and schedules by their A1111 labels, with every
 * field that could not be used named, and why. The reading itself is @easel/schema's infotext
 * table, the one Easel's PNGs are written with.
 */
import { readPngText } from '@easel/gpu-runtime/png';
import { parseInfotext, SAMPLER_LABELS, SCHEDULE_LABELS, type HiresFix, type UnmappedField } from '@easel/schema';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { HiresFixRequest } from '../generations/create/settings.js';
import { readImage } from '../generations/images/image-store.js';

/** generateImage's input as far as the infotext says it; a setting it does not give is absent. */
export interface PastedParameters {
  prompt: string;
  negativePrompt: string;
  width?: number;
  height?: number;
  steps?: number;
  cfgScale?: number;
  /** The A1111 sampler label ("DPM++ 2M SDE"), with the schedule apart in scheduleType. */
  sampler?: string;
  scheduleType?: string;
  clipSkip?: number;
  seed?: number;
  denoiseStrength?: number;
  padConds?: boolean;
  hires?: HiresFixRequest;
  /** The model's name as the infotext gives it; find it in the catalog by name. */
  modelName?: string;
  unmapped: UnmappedField[];
}

/** The PNG keyword A1111 writes its infotext under. */
const PARAMETERS_KEYWORD = 'parameters';

export const MAX_INFOTEXT_LENGTH = 30_000;

export function pasteParameters(text: string): PastedParameters {
  if (text.length > MAX_INFOTEXT_LENGTH) {
    throw new InvalidInputError(`The parameters are ${text.length} characters long; the limit is ${MAX_INFOTEXT_LENGTH}.`);
  }
  const { prompt, negativePrompt, settings, unmapped } = parseInfotext(text);
  const { sampler, schedule, model, hires, ...numbers } = settings;
  return {
    prompt,
    negativePrompt,
    ...numbers,
    ...(sampler && { sampler: SAMPLER_LABELS[sampler] }),
    ...(schedule && { scheduleType: SCHEDULE_LABELS[schedule] }),
    ...(model !== undefined && { modelName: model }),
    ...(hires && { hires: pastedHires(hires) }),
    unmapped,
  };
}

function pastedHires({ sampler, schedule, ...rest }: Partial<HiresFix>): HiresFixRequest {
  return { ...rest, ...(sampler && { sampler: SAMPLER_LABELS[sampler] }), ...(schedule && { scheduleType: SCHEDULE_LABELS[schedule] }) };
}

/** The parameters in one of the user's uploads (A1111's "PNG Info"). */
export async function pngInfo(userId: string, uploadId: string): Promise<PastedParameters> {
  const upload = await readImage('uploads', uploadId, userId);
  if (!upload) throw new NotFoundError(`No uploaded image "${uploadId}" among yours; upload one with POST /uploads and pass its id.`);
  if (upload.file.metadata.contentType !== 'image/png') {
    throw new InvalidInputError(`Upload "${uploadId}" is ${upload.file.metadata.contentType}; only PNGs carry A1111 parameters.`);
  }
  const infotext = readPngText(upload.bytes)[PARAMETERS_KEYWORD];
  if (infotext === undefined) throw new InvalidInputError(`Upload "${uploadId}" carries no A1111 parameters (no "parameters" text chunk).`);
  return pasteParameters(infotext);
}
