/**
 * Sampler and schedule names shared by the API and the GPU runtime.
 *
 * A1111 before 1.9 named a sampler and its sigma schedule together ("DPM++ 2M SDE Karras");
 * A1111 1.9 and later and ComfyUI keep them apart, with a "Schedule type" whose default,
 * "Automatic", means a schedule chosen per sampler. We store them apart and accept both spellings.
 */
export const SAMPLERS = [
  'euler',
  'euler_a',
  'heun',
  'lms',
  'dpm2',
  'dpm2_a',
  'dpmpp_2s_a',
  'dpmpp_2m',
  'dpmpp_sde',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_heun',
  'dpmpp_3m_sde',
  'restart',
  'ddim',
  'lcm',
] as const;
export type SamplerId = (typeof SAMPLERS)[number];

export const SCHEDULES = [
  'normal',
  'uniform',
  'karras',
  'exponential',
  'polyexponential',
  'sgm_uniform',
  'kl_optimal',
  'align_your_steps',
  'simple',
  'beta',
] as const;
export type ScheduleId = (typeof SCHEDULES)[number];

export const SAMPLER_LABELS: Record<SamplerId, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  heun: 'Heun',
  lms: 'LMS',
  dpm2: 'DPM2',
  dpm2_a: 'DPM2 a',
  dpmpp_2s_a: 'DPM++ 2S a',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_sde: 'DPM++ SDE',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_heun: 'DPM++ 2M SDE Heun',
  dpmpp_3m_sde: 'DPM++ 3M SDE',
  restart: 'Restart',
  ddim: 'DDIM',
  lcm: 'LCM',
};

/** A1111's "Schedule type" values. */
export const SCHEDULE_LABELS: Record<ScheduleId, string> = {
  normal: 'Normal',
  uniform: 'Uniform',
  karras: 'Karras',
  exponential: 'Exponential',
  polyexponential: 'Polyexponential',
  sgm_uniform: 'SGM Uniform',
  kl_optimal: 'KL Optimal',
  align_your_steps: 'Align Your Steps',
  simple: 'Simple',
  beta: 'Beta',
};

/**
 * What "Schedule type: Automatic" means for each sampler: A1111 1.9+'s sampler table
 * (modules/sd_samplers_kdiffusion.py, each sampler's `scheduler` option). Samplers without one
 * use the model's own discretisation, which is Normal here (the same sigmas).
 */
export const AUTOMATIC_SCHEDULE: Record<SamplerId, ScheduleId> = {
  euler: 'normal',
  euler_a: 'normal',
  heun: 'normal',
  lms: 'normal',
  dpm2: 'karras',
  dpm2_a: 'karras',
  dpmpp_2s_a: 'karras',
  dpmpp_2m: 'karras',
  dpmpp_sde: 'karras',
  dpmpp_2m_sde: 'exponential',
  dpmpp_2m_sde_heun: 'exponential',
  dpmpp_3m_sde: 'exponential',
  restart: 'karras',
  ddim: 'normal',
  lcm: 'normal',
};

/**
 * The noise each sampler adds after the initial noise (A1111 1.9+'s sampler table): none;
 * `sequential`, the seed's generator's next draws, in the order the sampler asks (ancestral
 * samplers, Restart, LCM), which the eta noise seed delta (ENSD) reseeds; `brownian`, a Brownian
 * tree keyed by the seed (the "brownian_noise" SDE samplers), so that more steps refine the same
 * image rather than replace it.
 */
export const SAMPLER_NOISE: Record<SamplerId, 'none' | 'sequential' | 'brownian'> = {
  euler: 'none',
  euler_a: 'sequential',
  heun: 'none',
  lms: 'none',
  dpm2: 'none',
  dpm2_a: 'sequential',
  dpmpp_2s_a: 'sequential',
  dpmpp_2m: 'none',
  dpmpp_sde: 'brownian',
  dpmpp_2m_sde: 'brownian',
  dpmpp_2m_sde_heun: 'brownian',
  dpmpp_3m_sde: 'brownian',
  restart: 'sequential',
  ddim: 'none',
  lcm: 'sequential',
};

/**
 * A1111's "Random number generator source" for seeded noise: CPU is torch's CPU generator
 * (ComfyUI, Civitai, A1111 set to CPU); NV is A1111's NVIDIA-compatible Philox generator, the
 * numbers A1111 and Forge get by default on an NVIDIA GPU.
 */
export const RNG_SOURCES = ['NV', 'CPU'] as const;
export type RngSource = (typeof RNG_SOURCES)[number];

export interface SamplerChoice {
  sampler: SamplerId;
  schedule: ScheduleId;
}

export interface SamplerOption extends SamplerChoice {
  /**
   * The A1111 label: the sampler's own name for its automatic schedule ("DPM++ 2M" is Karras),
   * else with the schedule appended, e.g. "DPM++ 2M SDE Karras".
   */
  label: string;
  /** A1111 1.9+'s separate "Sampler" and "Schedule type" names. */
  samplerName: string;
  scheduleType: string;
  /** The schedule "Automatic" gives this sampler. */
  automatic: boolean;
  recommended: boolean;
}

/** What people reach for first: A1111's default and the usual quality choice for SDXL-era models. */
const RECOMMENDED = new Set(['Euler a', 'DPM++ 2M SDE Karras']);

export function samplerLabel({ sampler, schedule }: SamplerChoice): string {
  const base = SAMPLER_LABELS[sampler];
  return schedule === AUTOMATIC_SCHEDULE[sampler] ? base : `${base} ${SCHEDULE_LABELS[schedule]}`;
}

export const SAMPLER_OPTIONS: readonly SamplerOption[] = SAMPLERS.flatMap((sampler) =>
  SCHEDULES.map((schedule) => {
    const label = samplerLabel({ sampler, schedule });
    return {
      sampler,
      schedule,
      label,
      samplerName: SAMPLER_LABELS[sampler],
      scheduleType: SCHEDULE_LABELS[schedule],
      automatic: AUTOMATIC_SCHEDULE[sampler] === schedule,
      recommended: RECOMMENDED.has(label),
    };
  }),
);

const normalise = (label: string) => label.trim().replace(/\s+/g, ' ').toLowerCase();
const SAMPLER_BY_LABEL = new Map(SAMPLERS.map((id) => [normalise(SAMPLER_LABELS[id]), id]));
const SCHEDULE_BY_LABEL = new Map(SCHEDULES.map((id) => [normalise(SCHEDULE_LABELS[id]), id]));

/**
 * Resolves an A1111 sampler label, alone ("DPM++ 2M") or with a schedule ("DPM++ 2M SDE Karras"),
 * and an optional separate schedule type ("Karras"), which wins over the label's. No schedule, or
 * "Automatic", is the sampler's automatic one, as in A1111 1.9+. Undefined for a name we do not know.
 */
export function parseSampler(label: string, scheduleType?: string): SamplerChoice | undefined {
  const name = normalise(label);
  let sampler = SAMPLER_BY_LABEL.get(name);
  let schedule: ScheduleId | undefined;
  for (const [scheduleName, id] of sampler ? [] : SCHEDULE_BY_LABEL) {
    if (!name.endsWith(` ${scheduleName}`)) continue;
    sampler = SAMPLER_BY_LABEL.get(name.slice(0, -scheduleName.length - 1));
    schedule = id;
    if (sampler) break;
  }
  if (!sampler) return undefined;
  if (scheduleType !== undefined && normalise(scheduleType) !== 'automatic') {
    schedule = SCHEDULE_BY_LABEL.get(normalise(scheduleType));
    if (!schedule) return undefined;
  }
  return { sampler, schedule: schedule ?? AUTOMATIC_SCHEDULE[sampler] };
}

/**
 * Samplers A1111 marks `second_order` (sd_samplers_kdiffusion.py): it schedules their prompt
 * editing over twice the steps, since its CFGDenoiser counts model calls and they make about two
 * per step.
 */
export const SECOND_ORDER_SAMPLERS: ReadonlySet<SamplerId> = new Set<SamplerId>(['heun', 'dpm2', 'dpm2_a', 'dpmpp_2s_a', 'dpmpp_sde', 'restart']);
