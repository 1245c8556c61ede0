import { Query, Resolver } from 'type-graphql';
import { SAMPLER_OPTIONS, samplerFamilies } from '@easel/schema';
import { SamplerOption } from './sampler-types.js';

@Resolver()
export class SamplerResolver {
  @Query(() => [SamplerOption], { description: 'Every sampler and schedule combination, recommended ones marked.' })
  samplers(): SamplerOption[] {
    return SAMPLER_OPTIONS.map((option) => ({ ...option, families: samplerFamilies(option) }));
  }
}
