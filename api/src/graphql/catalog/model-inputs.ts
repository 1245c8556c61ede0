import { ArrayMaxSize, ArrayNotEmpty, IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { Field, Float, InputType, Int } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import type { ModelTier, PromptStyle } from '../../catalog/catalog-entry.js';
import { SLUG_PATTERN, SLUG_RULE } from '../../catalog/catalog-rules.js';
import { ModelFamilyEnum, ModelTierEnum, PromptStyleEnum } from './catalog-enums.js';
import { ImageSize, ModelDefaults } from './model-types.js';

// Here only lengths and shapes. Ranges (sizes, steps, CFG, clip skip), the sampler name and the
// folder name are checked by the catalog itself against the job contract, so that admins and the
// seed file meet the same rules.

const SLUG_MESSAGE = `slug ${SLUG_RULE}`;

@InputType({ description: 'Only the fields given change.' })
export class ModelDefaultsChangesInput {
  @Field(() => Int, { nullable: true })
  width?: number;

  @Field(() => Int, { nullable: true })
  height?: number;

  @Field(() => Int, { nullable: true })
  steps?: number;

  @Field(() => Float, { nullable: true })
  cfgScale?: number;

  @Field({ nullable: true })
  sampler?: string;

  @Field(() => Int, { nullable: true })
  clipSkip?: number;
}

@InputType()
export class AddModelInput {
  @Field()
  @Length(1, 100)
  name!: string;

  @Field()
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  @MaxLength(100)
  slug!: string;

  @Field(() => ModelFamilyEnum)
  family!: ModelFamily;

  @Field(() => ModelTierEnum)
  tier!: ModelTier;

  @Field(() => PromptStyleEnum)
  promptStyle!: PromptStyle;

  @Field({ defaultValue: '' })
  @MaxLength(2000)
  description!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(500)
  source?: string | null;

  @Field(() => ModelDefaults)
  defaults!: ModelDefaults;

  @Field(() => [ImageSize])
  @ArrayNotEmpty()
  @ArrayMaxSize(32)
  allowedSizes!: ImageSize[];

  @Field()
  @MaxLength(200)
  path!: string;
}

@InputType({ description: 'Only the fields given change.' })
export class UpdateModelInput {
  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 100)
  name?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  @MaxLength(100)
  slug?: string;

  @Field(() => ModelFamilyEnum, { nullable: true })
  family?: ModelFamily;

  @Field(() => ModelTierEnum, { nullable: true })
  tier?: ModelTier;

  @Field(() => PromptStyleEnum, { nullable: true })
  promptStyle?: PromptStyle;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(2000)
  description?: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(500)
  source?: string | null;

  @Field(() => ModelDefaultsChangesInput, { nullable: true })
  defaults?: ModelDefaultsChangesInput;

  @Field(() => [ImageSize], { nullable: true })
  @IsOptional()
  @ArrayNotEmpty()
  @ArrayMaxSize(32)
  allowedSizes?: ImageSize[];

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(200)
  path?: string;

  @Field({ nullable: true, description: 'false brings a retired model back.' })
  retired?: boolean;
}

@InputType({ description: 'Only the fields given change; lists replace the old list.' })
export class FamilyPresetInput {
  @Field(() => PromptStyleEnum, { nullable: true })
  promptStyle?: PromptStyle;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(100)
  @MaxLength(100, { each: true })
  qualityTags?: string[];

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(100)
  @MaxLength(100, { each: true })
  negativeTags?: string[];
}
