/**
 * A1111's "infotext": the `parameters` text that AUTOMATIC1111 writes into every PNG and that
 * A1111, Forge, ComfyUI, Civitai and most image viewers read back. Three parts:
 *
 *   <prompt>
 *   Negative prompt: <negative prompt>            (only when there is one)
 *   Steps: 20, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, ...
 *
 * The last line is `Key: value` pairs in A1111's order (create_infotext in modules/processing.py,
 * then the hires fix's extra parameters); a key is left out where A1111 leaves it out (its value
 * is the default), and a value holding `,`, `:` or a newline is JSON-quoted.
 *
 * Writing and reading are one table, FIELDS: each entry is one key, how a setting is written
 * under it and how it is read back, so that what Easel writes reads back into the same settings.
 * A new setting is one more entry.
 */
import { HIRES_UPSCALERS, type HiresFix, type HiresUpscaler, type ImageSettings } from './job.js';
import { parseSampler, RNG_SOURCES, SAMPLER_LABELS, SAMPLER_NOISE, SCHEDULE_LABELS, type RngSource, type SamplerId, type ScheduleId } from './samplers.js';

/** The settings that decided an image, as written into its PNG. */
export interface InfotextParameters
  extends Omit<ImageSettings, 'batchSize' | 'denoiseStrength' | 'padConds' | 'rngSource' | 'subseed' | 'subseedStrength' | 'etaNoiseSeedDelta' | 'loras'> {
  padConds?: boolean;
  /** "RNG: CPU" or "RNG: NV". */
  rngSource?: RngSource;
  /** "Variation seed" and "Variation seed strength", written when the strength is not 0. */
  subseed?: number;
  subseedStrength?: number;
  /** "ENSD", written when not 0 and the sampler draws per-step noise from the seed's generator. */
  etaNoiseSeedDelta?: number;
  prompt: string;
  negativePrompt: string;
  /** The model's human name. */
  model?: string;
  /** img2img and the hires pass only. */
  denoiseStrength?: number;
  /** A1111's "Lora hashes": each LoRA's name and short file hash. */
  loraHashes?: { name: string; hash: string }[];
}

/** A pasted infotext read into settings: what it said, and what of it Easel could not use. */
export interface ParsedInfotext {
  prompt: string;
  negativePrompt: string;
  settings: Partial<Omit<InfotextParameters, 'prompt' | 'negativePrompt' | 'hires'>> & { hires?: Partial<HiresFix> };
  /** Every `Key: value` pair of the last line, unquoted, in order. */
  fields: Record<string, string>;
  /** The pairs no setting took, each with the reason. */
  unmapped: UnmappedField[];
}

export interface UnmappedField {
  key: string;
  value: string;
  reason: string;
}

type Settings = ParsedInfotext['settings'];

interface Field {
  key: string;
  /** The value to write, or undefined to leave the key out. */
  write(params: InfotextParameters): string | number | boolean | undefined;
  /** Reads the value into `settings`; returns why it could not, or nothing. `fields` holds every pair. */
  read(value: string, settings: Settings, fields: Readonly<Record<string, string>>): string | void;
}

const number = (key: string, set: (settings: Settings, value: number) => void, write: Field['write']): Field => ({
  key,
  write,
  read(value, settings) {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) return `"${value}" is not a number`;
    set(settings, parsed);
  },
});

const hires = (settings: Settings): Partial<HiresFix> => (settings.hires ??= {});

const sameOrUndefined = <T>(value: T | undefined, firstPass: T) => (value === undefined || value === firstPass ? undefined : value);

/** A1111 names a sampler and schedule together ("DPM++ 2M Karras") or apart ("Schedule type"). */
function readSampler(label: string, scheduleType: string | undefined): { sampler: SamplerId; schedule: ScheduleId } | string {
  const choice = parseSampler(label, scheduleType);
  if (choice) return choice;
  if (scheduleType !== undefined && parseSampler(label)) return `schedule type "${scheduleType}" is not one Easel runs`;
  return `sampler "${label}" is not one Easel runs (the samplers query lists those it does)`;
}

const FIELDS: readonly Field[] = [
  number('Steps', (s, v) => (s.steps = v), (p) => p.steps),
  {
    key: 'Sampler',
    write: (p) => SAMPLER_LABELS[p.sampler],
    read(value, settings, fields) {
      const choice = readSampler(value, fields['Schedule type']);
      if (typeof choice === 'string') return choice;
      settings.sampler = choice.sampler;
      settings.schedule = choice.schedule;
    },
  },
  // Read with Sampler.
  { key: 'Schedule type', write: (p) => SCHEDULE_LABELS[p.schedule], read: () => undefined },
  number('CFG scale', (s, v) => (s.cfgScale = v), (p) => p.cfgScale),
  // FLUX.1 [dev]'s distilled guidance, as Forge writes it.
  number('Distilled CFG Scale', (s, v) => (s.guidance = v), (p) => p.guidance),
  number('Seed', (s, v) => (s.seed = v), (p) => p.seed),
  {
    key: 'Size',
    write: (p) => `${p.width}x${p.height}`,
    read(value, settings) {
      const size = /^(\d+)x(\d+)$/.exec(value);
      if (!size) return `"${value}" is not a size such as 512x768`;
      settings.width = Number(size[1]);
      settings.height = Number(size[2]);
    },
  },
  {
    key: 'Model',
    write: (p) => p.model,
    read(value, settings) {
      settings.model = value;
    },
  },
  number('Variation seed', (s, v) => (s.subseed = v), (p) => (p.subseedStrength ? p.subseed : undefined)),
  number('Variation seed strength', (s, v) => (s.subseedStrength = v), (p) => p.subseedStrength || undefined),
  number('Denoising strength', (s, v) => (s.denoiseStrength = v), (p) => p.denoiseStrength),
  number('Clip skip', (s, v) => (s.clipSkip = v), (p) => (p.clipSkip > 1 ? p.clipSkip : undefined)),
  number('ENSD', (s, v) => (s.etaNoiseSeedDelta = v), (p) => (p.etaNoiseSeedDelta && SAMPLER_NOISE[p.sampler] === 'sequential' ? p.etaNoiseSeedDelta : undefined)),
  {
    key: 'RNG',
    write: (p) => p.rngSource,
    read(value, settings) {
      const source = RNG_SOURCES.find((name) => name.toLowerCase() === value.trim().toLowerCase());
      if (!source) return `random number source "${value}" is not one Easel has (${RNG_SOURCES.join(', ')})`;
      settings.rngSource = source;
    },
  },
  {
    // A1111 writes it when it padded; Easel when the setting is on.
    key: 'Pad conds',
    write: (p) => (p.padConds ? 'True' : undefined),
    read(value, settings) {
      settings.padConds = value === 'True';
    },
  },
  {
    key: 'Hires prompt',
    write: (p) => p.hires?.prompt || undefined,
    read(value, settings) {
      hires(settings).prompt = value;
    },
  },
  {
    key: 'Hires negative prompt',
    write: (p) => p.hires?.negativePrompt || undefined,
    read(value, settings) {
      hires(settings).negativePrompt = value;
    },
  },
  {
    key: 'Hires sampler',
    write: (p) => (p.hires ? sameOrUndefined(p.hires.sampler && SAMPLER_LABELS[p.hires.sampler], SAMPLER_LABELS[p.sampler]) : undefined),
    read(value, settings, fields) {
      const choice = readSampler(value, fields['Hires schedule type']);
      if (typeof choice === 'string') return choice;
      hires(settings).sampler = choice.sampler;
      // An older label names its schedule ("DPM++ 2M Karras"); a bare one leaves the first pass's.
      const namesSchedule = value.trim().toLowerCase() !== SAMPLER_LABELS[choice.sampler].toLowerCase();
      if (fields['Hires schedule type'] === undefined && namesSchedule) hires(settings).schedule = choice.schedule;
    },
  },
  {
    key: 'Hires schedule type',
    write: (p) => (p.hires ? sameOrUndefined(p.hires.schedule && SCHEDULE_LABELS[p.hires.schedule], SCHEDULE_LABELS[p.schedule]) : undefined),
    read(value, settings) {
      const schedule = (Object.keys(SCHEDULE_LABELS) as ScheduleId[]).find((id) => SCHEDULE_LABELS[id].toLowerCase() === value.trim().toLowerCase());
      if (!schedule) return `schedule type "${value}" is not one Easel runs`;
      hires(settings).schedule = schedule;
    },
  },
  number('Hires upscale', (s, v) => (hires(s).scale = v), (p) => (p.hires && !isResize(p.hires) ? p.hires.scale : undefined)),
  {
    key: 'Hires resize',
    write: (p) => (p.hires && isResize(p.hires) ? `${p.hires.resizeWidth}x${p.hires.resizeHeight}` : undefined),
    read(value, settings) {
      const size = /^(\d+)x(\d+)$/.exec(value);
      if (!size) return `"${value}" is not a size such as 1024x1536`;
      hires(settings).resizeWidth = Number(size[1]);
      hires(settings).resizeHeight = Number(size[2]);
    },
  },
  number('Hires steps', (s, v) => (hires(s).steps = v), (p) => p.hires?.steps || undefined),
  {
    key: 'Hires upscaler',
    write: (p) => p.hires?.upscaler,
    read(value, settings) {
      const upscaler = HIRES_UPSCALERS.find((name) => name.toLowerCase() === value.toLowerCase());
      if (!upscaler) return `upscaler "${value}" is not one Easel runs; it has ${HIRES_UPSCALERS.join(', ')}`;
      hires(settings).upscaler = upscaler as HiresUpscaler;
    },
  },
  // The LoRAs themselves are read from the prompt's <lora:name:weight> tags; the hashes let
  // Civitai link them.
  {
    key: 'Lora hashes',
    write: (p) => (p.loraHashes?.length ? p.loraHashes.map(({ name, hash }) => `${name}: ${hash}`).join(', ') : undefined),
    read(value, settings) {
      const pairs = value.split(',').map((pair) => /^\s*(.+?):\s*([0-9a-fA-F]+)\s*$/.exec(pair));
      if (pairs.some((pair) => !pair)) return `"${value}" is not a list of name: hash pairs`;
      settings.loraHashes = pairs.map((pair) => ({ name: pair![1], hash: pair![2] }));
    },
  },
];

const BY_KEY = new Map(FIELDS.map((field) => [field.key, field]));

/** Why a key other tools write is not an Easel setting. */
const KNOWN_UNMAPPED: Record<string, string> = {
  'Model hash': 'Easel picks a model by catalog id, not by hash; the Model name is read',
  VAE: 'each catalog model comes with its own VAE',
  'VAE hash': 'each catalog model comes with its own VAE',
  Version: 'the version of the tool that wrote it',
  'TI hashes': 'textual inversions are not supported',
  Hashes: 'Easel picks a model by catalog id, not by hash',
  'Civitai resources': 'Easel picks a model by catalog id; Civitai resources are not looked up',
  'Civitai metadata': 'Civitai bookkeeping, no setting',
  'Created Date': 'when the image was made, no setting',
  'Face restoration': 'face restoration is not supported',
  'Emphasis': 'Easel uses A1111\'s default emphasis ("Original")',
};

const NEGATIVE_PREFIX = 'Negative prompt:';

export function formatInfotext(params: InfotextParameters): string {
  const settings = FIELDS.map((field) => [field.key, field.write(params)] as const)
    .filter((pair): pair is readonly [string, string | number | boolean] => pair[1] !== undefined)
    .map(([key, value]) => `${key}: ${quote(String(value))}`)
    .join(', ');
  const negative = params.negativePrompt ? `\n${NEGATIVE_PREFIX} ${params.negativePrompt}` : '';
  return `${params.prompt}${negative}\n${settings}`.trim();
}

// A1111's re_param: a key, then a JSON-quoted value or anything up to the next comma.
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

/** Reads an infotext the way A1111's parse_generation_parameters does. Never throws. */
export function parseInfotext(text: string): ParsedInfotext {
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
  for (const [, key, value] of settingsLine.matchAll(PARAM)) fields[key.trim()] = unquote(value.trim());

  const settings: Settings = {};
  const unmapped: UnmappedField[] = [];
  for (const [key, value] of Object.entries(fields)) {
    const field = BY_KEY.get(key);
    const reason = field ? field.read(value, settings, fields) : (KNOWN_UNMAPPED[key] ?? 'not a setting Easel has');
    if (reason) unmapped.push({ key, value, reason });
  }
  // Older A1111 and Civitai write no Clip skip for 1.
  settings.clipSkip ??= 1;
  return { prompt: prompt.join('\n'), negativePrompt: negative.join('\n'), settings, fields, unmapped };
}

function isResize(hiresFix: Pick<HiresFix, 'resizeWidth' | 'resizeHeight'>): boolean {
  return hiresFix.resizeWidth !== 0 || hiresFix.resizeHeight !== 0;
}

/** A1111's quote: JSON when the value would break the `Key: value, ` line (or, unlike A1111, would read as JSON). */
function quote(value: string): string {
  return /[,:\n]|^"/.test(value) ? JSON.stringify(value) : value;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    return String(JSON.parse(value));
  } catch {
    return value;
  }
}

