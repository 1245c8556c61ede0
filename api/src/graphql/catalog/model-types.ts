import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import type { ModelTier, PromptStyle } from '../../catalog/catalog-entry.js';
import { ModelFamilyEnum, ModelTierEnum, PromptStyleEnum } from './catalog-enums.js';

// Each class here is also the input of the same shape (addModel takes them back), so that the
// two cannot drift apart.

@ObjectType()
@InputType('ImageSizeInput')
export class ImageSize {
  @Field(() => Int)
  width!: number;

  @Field(() => Int)
  height!: number;
}

const DEFAULTS_DESCRIPTION = 'Settings a generation starts from when it does not give its own.';

@ObjectType({ description: DEFAULTS_DESCRIPTION })
@InputType('ModelDefaultsInput', { description: DEFAULTS_DESCRIPTION })
export class ModelDefaults extends ImageSize {
  @Field(() => Int)
  steps!: number;

  @Field(() => Float)
  cfgScale!: number;

  @Field({ description: 'A1111 label of sampler and schedule together, e.g. "DPM++ 2M SDE Karras" or "Euler a"; see `samplers`.' })
  sampler!: string;

  // The default only applies to the input; an output field always has a value.
  @Field(() => Int, { defaultValue: 1, description: '1 uses the last CLIP layer, 2 the penultimate (A1111 "Clip skip").' })
  clipSkip!: number;
}

@ObjectType({ description: 'A model in the catalog.' })
export class Model {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field({ description: 'Unique, readable id; `model(id:)` accepts it too.' })
  slug!: string;

  @Field(() => ModelFamilyEnum)
  family!: ModelFamily;

  @Field(() => ModelTierEnum)
  tier!: ModelTier;

  @Field(() => PromptStyleEnum)
  promptStyle!: PromptStyle;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true, description: 'Where the weights come from: a Hugging Face repository id or a URL.' })
  source!: string | null;

  @Field(() => ModelDefaults)
  defaults!: ModelDefaults;

  @Field(() => [ImageSize], { description: 'The sizes this model is offered at; the defaults are one of them.' })
  allowedSizes!: ImageSize[];

  @Field({ description: 'Folder under MODELS_DIR holding the ONNX export.' })
  path!: string;

  @Field({ description: 'Retired models are hidden from `models` but still resolve by id.' })
  retired!: boolean;
}

@ObjectType({ description: "A family's prompt habits, which the prompt enhancer applies." })
export class FamilyPreset {
  @Field(() => ModelFamilyEnum)
  family!: ModelFamily;

  @Field(() => PromptStyleEnum)
  promptStyle!: PromptStyle;

  @Field(() => [String], { description: 'Tags that lift quality, added to the prompt.' })
  qualityTags!: string[];

  @Field(() => [String], { description: 'Tags added to the negative prompt.' })
  negativeTags!: string[];
}
