import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import type { CatalogModel } from '../../catalog/catalog.js';
import type { ModelTier } from '../../catalog/catalog-entry.js';
import type { GraphQLContext } from '../context.js';
import { withoutNulls } from '../without-nulls.js';
import { ModelFamilyEnum, ModelTierEnum } from './catalog-enums.js';
import { AddModelInput, FamilyPresetInput, UpdateModelInput } from './model-inputs.js';
import { FamilyPreset, Model } from './model-types.js';

@Resolver(() => Model)
export class CatalogResolver {
  @Query(() => [Model], { description: 'Models people can pick (retired ones left out), by family then name.' })
  models(
    @Ctx() { services }: GraphQLContext,
    @Arg('tier', () => ModelTierEnum, { nullable: true }) tier?: ModelTier,
    @Arg('family', () => ModelFamilyEnum, { nullable: true }) family?: ModelFamily,
  ): Promise<CatalogModel[]> {
    return services.catalog.list({ tier: tier ?? undefined, family: family ?? undefined });
  }

  @Query(() => Model, { nullable: true, description: 'A model by id or slug, retired or not.' })
  async model(@Ctx() { services }: GraphQLContext, @Arg('id', () => ID) id: string): Promise<CatalogModel | null> {
    return (await services.catalog.find(id)) ?? null;
  }

  @FieldResolver(() => Boolean, { description: 'Whether its files are in MODELS_DIR, so it can generate.' })
  installed(@Root() model: CatalogModel, @Ctx() { services }: GraphQLContext): Promise<boolean> {
    return services.catalog.isInstalled(model);
  }

  @FieldResolver(() => FamilyPreset, { nullable: true, description: "Its family's prompt preset." })
  async preset(@Root() model: CatalogModel, @Ctx() { services }: GraphQLContext): Promise<FamilyPreset | null> {
    return (await services.catalog.preset(model.family)) ?? null;
  }

  @Query(() => [FamilyPreset], { description: 'Prompt presets of every family.' })
  familyPresets(@Ctx() { services }: GraphQLContext): Promise<FamilyPreset[]> {
    return services.catalog.presets();
  }

  @Authorized('ADMIN')
  @Mutation(() => Model, { description: 'Admins: adds a model to the catalog.' })
  addModel(@Ctx() { services }: GraphQLContext, @Arg('input') input: AddModelInput): Promise<CatalogModel> {
    return services.catalog.add({ ...input, source: input.source ?? null });
  }

  @Authorized('ADMIN')
  @Mutation(() => Model, { description: 'Admins: changes the fields given.' })
  updateModel(
    @Ctx() { services }: GraphQLContext,
    @Arg('id', () => ID, { description: 'Id or slug.' }) id: string,
    @Arg('input') input: UpdateModelInput,
  ): Promise<CatalogModel> {
    // GraphQL lets a client send null for an optional field; only `source` means anything by it.
    const { source, defaults, ...fields } = input;
    return services.catalog.update(id, {
      ...withoutNulls(fields),
      ...(source !== undefined ? { source } : {}),
      ...(defaults ? { defaults: withoutNulls(defaults) } : {}),
    });
  }

  @Authorized('ADMIN')
  @Mutation(() => Model, { description: 'Admins: hides a model from `models`; generations that used it keep working.' })
  retireModel(@Ctx() { services }: GraphQLContext, @Arg('id', () => ID, { description: 'Id or slug.' }) id: string): Promise<CatalogModel> {
    return services.catalog.retire(id);
  }

  @Authorized('ADMIN')
  @Mutation(() => FamilyPreset, { description: "Admins: changes a family's prompt preset." })
  updateFamilyPreset(
    @Ctx() { services }: GraphQLContext,
    @Arg('family', () => ModelFamilyEnum) family: ModelFamily,
    @Arg('input') input: FamilyPresetInput,
  ): Promise<FamilyPreset> {
    return services.catalog.updatePreset(family, withoutNulls(input));
  }
}
