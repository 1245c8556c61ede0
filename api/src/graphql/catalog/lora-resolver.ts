import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import type { CatalogLora } from '../../catalog/lora-catalog.js';
import type { GraphQLContext } from '../context.js';
import { ModelFamilyEnum } from './catalog-enums.js';
import { AddLoraInput, Lora } from './lora-types.js';

@Resolver(() => Lora)
export class LoraResolver {
  @Query(() => [Lora], { description: 'LoRAs in the catalog by name; only those for `family` when given.' })
  loras(@Ctx() { services }: GraphQLContext, @Arg('family', () => ModelFamilyEnum, { nullable: true }) family?: ModelFamily): Promise<CatalogLora[]> {
    return services.loras.list(family ?? undefined);
  }

  @Authorized('ADMIN')
  @Mutation(() => Lora, { description: 'Admins: adds a LoRA whose file is in LORAS_DIR to the catalog, once the file reads as a LoRA (BAD_USER_INPUT otherwise); CONFLICT for a taken name unless `replace`.' })
  addLora(@Ctx() { services }: GraphQLContext, @Arg('input') { replace, ...input }: AddLoraInput): Promise<CatalogLora> {
    return services.loras.add({ ...input, source: input.source ?? null }, { replace });
  }

  @Authorized('ADMIN')
  @Mutation(() => Lora, {
    description:
      'Admins: takes a LoRA out of the catalog (its file stays in LORAS_DIR). New generations naming it are refused; ' +
      'queued ones end FAILED with LORA_REMOVED when dispatched, refunded. NOT_FOUND when there is no such LoRA.',
  })
  removeLora(@Ctx() { services }: GraphQLContext, @Arg('name') name: string): Promise<CatalogLora> {
    return services.loras.remove(name);
  }
}
