import { Query, Resolver } from 'type-graphql';
import { SAMPLER_OPTIONS } from '@easel/schema';
import { SamplerOption } from './sampler-types.js';

@Resolver()
export class SamplerResolver {
  @Query(() => [SamplerOption], { description: 'Every sampler and schedule combination, recommended ones marked.' })
  samplers(): readonly SamplerOption[] {
    return SAMPLER_OPTIONS;
  }
}
