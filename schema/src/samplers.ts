/**
 * Sampler and schedule names shared by the API and the GPU runtime.
 *
 * A1111 names a sampler and its sigma schedule together ("DPM++ 2M SDE Karras"); newer A1111
 * versions and ComfyUI keep them apart. We store them apart and accept both spellings.
 */
export const SAMPLERS = ['euler', 'euler_a', 'heun', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_sde', 'ddim', 'lcm'] as const;
export type SamplerId = (typeof SAMPLERS)[number];

export const SCHEDULES = ['normal', 'karras', 'exponential', 'sgm_uniform'] as const;
export type ScheduleId = (typeof SCHEDULES)[number];

export const SAMPLER_LABELS: Record<SamplerId, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  heun: 'Heun',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_sde: 'DPM++ SDE',
  ddim: 'DDIM',
  lcm: 'LCM',
};

/** A1111's "Schedule type" values. */
export const SCHEDULE_LABELS: Record<ScheduleId, string> = {
  normal: 'Normal',
  karras: 'Karras',
  exponential: 'Exponential',
  sgm_uniform: 'SGM Uniform',
};

export interface SamplerChoice {
  sampler: SamplerId;
  schedule: ScheduleId;
}

export interface SamplerOption extends SamplerChoice {
  /** The combined A1111 label, e.g. "DPM++ 2M SDE Karras"; the normal schedule adds no suffix. */
  label: string;
  recommended: boolean;
}

/** What people reach for first: A1111's default and the usual quality choice for SDXL-era models. */
const RECOMMENDED = new Set(['Euler a', 'DPM++ 2M SDE Karras']);

export function samplerLabel({ sampler, schedule }: SamplerChoice): string {
  const base = SAMPLER_LABELS[sampler];
  return schedule === 'normal' ? base : `${base} ${SCHEDULE_LABELS[schedule]}`;
}

export const SAMPLER_OPTIONS: readonly SamplerOption[] = SAMPLERS.flatMap((sampler) =>
  SCHEDULES.map((schedule) => {
    const label = samplerLabel({ sampler, schedule });
    return { sampler, schedule, label, recommended: RECOMMENDED.has(label) };
  }),
);

const normalise = (label: string) => label.trim().replace(/\s+/g, ' ').toLowerCase();
const BY_LABEL = new Map(SAMPLER_OPTIONS.map((option) => [normalise(option.label), option]));
const SCHEDULE_BY_LABEL = new Map(SCHEDULES.map((id) => [normalise(SCHEDULE_LABELS[id]), id]));

/**
 * Resolves an A1111 label ("DPM++ 2M SDE Karras", "Euler a") and an optional separate schedule
 * type ("Karras"). Returns undefined for a name we do not know.
 */
export function parseSampler(label: string, scheduleType?: string): SamplerChoice | undefined {
  const option = BY_LABEL.get(normalise(label));
  if (!option) return undefined;
  if (scheduleType === undefined || normalise(scheduleType) === 'automatic') {
    return { sampler: option.sampler, schedule: option.schedule };
  }
  const schedule = SCHEDULE_BY_LABEL.get(normalise(scheduleType));
  if (!schedule) return undefined;
  return { sampler: option.sampler, schedule };
}

/**
 * Samplers A1111 marks `second_order` (sd_samplers_kdiffusion.py): it schedules their prompt
 * editing over twice the steps, since its CFGDenoiser counts model calls and they make about two
 * per step.
 */
export const SECOND_ORDER_SAMPLERS: ReadonlySet<SamplerId> = new Set<SamplerId>(['heun', 'dpmpp_sde']);
