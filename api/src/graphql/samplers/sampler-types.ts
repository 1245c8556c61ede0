import { Field, ObjectType } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import { ModelFamilyEnum } from '../catalog/catalog-enums.js';

@ObjectType({ description: 'A sampler and sigma schedule, under the name A1111 gives the pair.' })
export class SamplerOption {
  @Field({ description: 'The A1111 label, e.g. "DPM++ 2M SDE Karras"; what generation inputs accept.' })
  label!: string;

  @Field({ description: 'Sampler id, e.g. "dpmpp_2m_sde".' })
  sampler!: string;

  @Field({ description: 'Sigma schedule id: normal, karras, exponential or sgm_uniform.' })
  schedule!: string;

  @Field({ description: 'One of the choices to reach for first.' })
  recommended!: boolean;

  @Field(() => [ModelFamilyEnum], { description: 'The model families that run it: flow-matching models (Flux) take Euler with the Normal schedule only.' })
  families!: ModelFamily[];
}
