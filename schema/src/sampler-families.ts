import { FAMILY_ARCHITECTURE, MODEL_FAMILIES, type ModelFamily } from './families.js';
import { SAMPLER_LABELS, SCHEDULE_LABELS, type SamplerChoice, type SamplerId, type ScheduleId } from './samplers.js';

/**
 * Which samplers each family runs. SD 1.x and SDXL-family models run every sampler over every
 * schedule. Flux is a rectified-flow model: it runs flow-matching Euler over its own (shifted)
 * flow schedule, as diffusers' FlowMatchEulerDiscreteScheduler does. The ancestral and SDE
 * samplers add noise the variance-exploding way (x + σ·ε), which is wrong for x = (1 − σ)·x0 + σ·ε,
 * and the Karras / exponential / SGM schedules are spaced for SD's σ range, not σ ∈ [0, 1].
 */
const FLOW_SAMPLERS: ReadonlySet<SamplerId> = new Set(['euler']);
const FLOW_SCHEDULES: ReadonlySet<ScheduleId> = new Set(['normal']);

const isFlow = (family: ModelFamily) => FAMILY_ARCHITECTURE[family] === 'flux';

/** The families a sampler and schedule can run, in catalog order. */
export function samplerFamilies({ sampler, schedule }: SamplerChoice): ModelFamily[] {
  return MODEL_FAMILIES.filter((family) => !isFlow(family) || (FLOW_SAMPLERS.has(sampler) && FLOW_SCHEDULES.has(schedule)));
}

/** Why a family cannot run this sampler and schedule, in words for the user; undefined when it can. */
export function samplerRefusal(family: ModelFamily, choice: SamplerChoice): string | undefined {
  if (samplerFamilies(choice).includes(family)) return undefined;
  const supported = [...FLOW_SAMPLERS].map((id) => SAMPLER_LABELS[id]).join(', ');
  const schedules = [...FLOW_SCHEDULES].map((id) => SCHEDULE_LABELS[id]).join(', ');
  return (
    `${family} models are flow-matching models and run the ${supported} sampler with the ${schedules} schedule only ` +
    `(got ${SAMPLER_LABELS[choice.sampler]} with the ${SCHEDULE_LABELS[choice.schedule]} schedule)`
  );
}
