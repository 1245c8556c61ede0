import { Field, ObjectType } from 'type-graphql';
import { RNG_SOURCES } from '@easel/schema';
import { graphqlEnum } from '../enum.js';

@ObjectType({ description: 'A sampler and sigma schedule, under the name A1111 gives the pair.' })
export class SamplerOption {
  @Field({ description: 'The A1111 label, e.g. "DPM++ 2M SDE Karras"; what generation inputs accept.' })
  label!: string;

  @Field({ description: 'Sampler id, e.g. "dpmpp_2m_sde".' })
  sampler!: string;

  @Field({ description: 'Sigma schedule id, e.g. "karras".' })
  schedule!: string;

  @Field({ description: 'A1111 1.9+ "Sampler", e.g. "DPM++ 2M SDE".' })
  samplerName!: string;

  @Field({ description: 'A1111 1.9+ "Schedule type", e.g. "Karras".' })
  scheduleType!: string;

  @Field({ description: 'Whether this is the schedule A1111 picks for "Schedule type: Automatic" with this sampler.' })
  automatic!: boolean;

  @Field({ description: 'One of the choices to reach for first.' })
  recommended!: boolean;
}

export const RngSourceEnum = graphqlEnum(
  'RngSource',
  RNG_SOURCES,
  "A1111's random number generator source. NV: A1111's NVIDIA-compatible Philox generator (A1111's default on NVIDIA GPUs). CPU: torch's CPU generator (ComfyUI, Civitai).",
);
