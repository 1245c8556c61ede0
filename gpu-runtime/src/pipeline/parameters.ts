/**
 * A1111's "infotext": the `parameters` text that AUTOMATIC1111 writes into every PNG and that
 * A1111, ComfyUI, Civitai and most image viewers read back. Three parts:
 *
 *   <prompt>
 *   Negative prompt: <negative prompt>            (only when there is one)
 *   Steps: 20, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, ...
 *
 * The last line is `Key: value` pairs in A1111's key order (create_infotext in modules/processing.py):
 * keys whose value is the default are left out ("Clip skip" when 1, "Denoising strength" for
 * txt2img), and a value holding `,`, `:` or a newline is JSON-quoted. Plain string work, no image
 * or GPU dependency, so the API can reuse it.
 */
import { parseSampler, SAMPLER_LABELS, SAMPLER_NOISE, SCHEDULE_LABELS, type RngSource, type SamplerId, type ScheduleId } from '@easel/schema';

/** The settings that decided an image, as written into (and read back from) its PNG. */
export interface ImageParameters {
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: SamplerId;
  schedule: ScheduleId;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  /** The model's human name. */
  model?: string;
  /** 1 means the last CLIP layer; A1111 omits it then. */
  clipSkip: number;
  /** Only for img2img. */
  denoiseStrength?: number;
  /** "RNG: CPU" or "RNG: NV" (A1111 omits it for its GPU source, which we never are). */
  rngSource?: RngSource;
  /** "Variation seed" and "Variation seed strength", written when the strength is not 0. */
  subseed?: number;
  subseedStrength?: number;
  /** "ENSD", written when not 0 and the sampler draws per-step noise from the seed's generator. */
  etaNoiseSeedDelta?: number;
}

/** What a foreign infotext may hold: anything can be missing, and keys we do not model are kept raw. */
export interface ParsedParameters extends Partial<ImageParameters> {
  prompt: string;
  negativePrompt: string;
  /** Every `Key: value` pair of the last line, unquoted, in order. */
  fields: Record<string, string>;
}

const NEGATIVE_PREFIX = 'Negative prompt:';

export function formatParameters(params: ImageParameters): string {
  const fields: [string, string | number | undefined][] = [
    ['Steps', params.steps],
    ['Sampler', SAMPLER_LABELS[params.sampler]],
    ['Schedule type', SCHEDULE_LABELS[params.schedule]],
    ['CFG scale', params.cfgScale],
    ['Seed', params.seed],
    ['Size', `${params.width}x${params.height}`],
    ['Model', params.model],
    ['Variation seed', params.subseedStrength ? params.subseed : undefined],
    ['Variation seed strength', params.subseedStrength || undefined],
    ['Denoising strength', params.denoiseStrength],
    ['Clip skip', params.clipSkip > 1 ? params.clipSkip : undefined],
    ['ENSD', params.etaNoiseSeedDelta && SAMPLER_NOISE[params.sampler] === 'sequential' ? params.etaNoiseSeedDelta : undefined],
    ['RNG', params.rngSource],
  ];
  const settings = fields
    .filter((field): field is [string, string | number] => field[1] !== undefined)
    .map(([key, value]) => `${key}: ${quote(String(value))}`)
    .join(', ');
  const negative = params.negativePrompt ? `\n${NEGATIVE_PREFIX} ${params.negativePrompt}` : '';
  return `${params.prompt}${negative}\n${settings}`.trim();
}

// A1111's re_param: a key, then a JSON-quoted value or anything up to the next comma.
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const SIZE = /^(\d+)x(\d+)$/;

/** Reads an infotext back the way A1111's parse_generation_parameters does. Never throws. */
export function parseParameters(text: string): ParsedParameters {
  const lines = text.trim().split('\n');
  let settingsLine = lines.pop() ?? '';
  // A last line with fewer than three pairs is part of the prompt, not settings.
  if ([...settingsLine.matchAll(PARAM)].length < 3) {
    lines.push(settingsLine);
    settingsLine = '';
  }

  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith(NEGATIVE_PREFIX)) {
      inNegative = true;
      line = line.slice(NEGATIVE_PREFIX.length).trim();
    }
    (inNegative ? negative : prompt).push(line);
  }

  const fields: Record<string, string> = {};
  for (const [, key, value] of settingsLine.matchAll(PARAM)) {
    fields[key.trim()] = unquote(value.trim());
  }

  const parsed: ParsedParameters = { prompt: prompt.join('\n'), negativePrompt: negative.join('\n'), fields };
  const number = (key: string) => {
    const value = fields[key] === undefined ? NaN : Number(fields[key]);
    return Number.isFinite(value) ? value : undefined;
  };
  parsed.steps = number('Steps');
  parsed.cfgScale = number('CFG scale');
  parsed.seed = number('Seed');
  parsed.clipSkip = number('Clip skip') ?? 1;
  parsed.denoiseStrength = number('Denoising strength');
  parsed.model = fields['Model'];
  const size = SIZE.exec(fields['Size'] ?? '');
  if (size) {
    parsed.width = Number(size[1]);
    parsed.height = Number(size[2]);
  }
  // Older A1111 writes "DPM++ 2M Karras" and no Schedule type; parseSampler reads both forms.
  const choice = fields['Sampler'] === undefined ? undefined : parseSampler(fields['Sampler'], fields['Schedule type']);
  if (choice) {
    parsed.sampler = choice.sampler;
    parsed.schedule = choice.schedule;
  }
  return parsed;
}

function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    return String(JSON.parse(value));
  } catch {
    return value;
  }
}
