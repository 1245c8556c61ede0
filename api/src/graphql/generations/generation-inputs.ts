import { IsDivisibleBy, IsInt, Length, Max, MaxLength, Min, MinLength } from 'class-validator';
import { Field, Float, ID, InputType, Int } from 'type-graphql';
import { GenerationSettings, MAX_SEED, SIZE_MULTIPLE, settingRange, type NumericSetting, type RngSource } from '@easel/schema';
import type { GenerateImageRequest } from '../../generations/create/settings.js';
import { RngSourceEnum } from '../samplers/sampler-types.js';
import { WebhookInput } from '../webhooks/webhook-types.js';

/** A numeric setting's range as the job contract defines it (@easel/schema's ImageSettings). */
const InRange = (name: NumericSetting): PropertyDecorator => {
  const { min, max } = settingRange(name);
  return (target, key) => {
    Min(min)(target, key);
    Max(max)(target, key);
  };
};
const MAX_PROMPT_LENGTH = GenerationSettings.shape.prompt.maxLength!;

// Here the shapes and the ranges any model shares. What depends on the model (its sizes, that it
// exists and is installed), the sampler name and the base image are checked by the generation
// service, and the job contract has the last word there.

@InputType({ description: 'What to generate. Settings left out come from the model\'s defaults (see `model { defaults }`).' })
export class GenerateImageInput implements GenerateImageRequest {
  @Field(() => ID, { description: 'Catalog id or slug.' })
  @Length(1, 200)
  modelId!: string;

  @Field({ description: 'A1111 prompt syntax: (emphasis:1.2), [less], BREAK.' })
  @MinLength(1, { message: 'prompt must not be empty' })
  @MaxLength(MAX_PROMPT_LENGTH)
  prompt!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(MAX_PROMPT_LENGTH)
  negativePrompt?: string;

  @Field({ defaultValue: true, description: "Add the model family's quality and negative tags (see `familyPresets`)." })
  enhancePrompt!: boolean;

  @Field(() => ID, { nullable: true, description: 'img2img: an image you uploaded (POST /uploads).' })
  baseImageId?: string;

  @Field(() => Float, { nullable: true, description: 'img2img: 0 keeps the base image, 1 repaints it all. Default 0.75.' })
  @InRange('denoiseStrength')
  denoiseStrength?: number;

  @Field(() => Int, { nullable: true, description: "One of the model's allowed sizes (`model { allowedSizes }`)." })
  @InRange('width')
  @IsDivisibleBy(SIZE_MULTIPLE, { message: `width must be a multiple of ${SIZE_MULTIPLE}` })
  width?: number;

  @Field(() => Int, { nullable: true })
  @InRange('height')
  @IsDivisibleBy(SIZE_MULTIPLE, { message: `height must be a multiple of ${SIZE_MULTIPLE}` })
  height?: number;

  @Field(() => Int, { nullable: true })
  @InRange('steps')
  steps?: number;

  @Field(() => Float, { nullable: true, description: 'Classifier-free guidance scale.' })
  @InRange('cfgScale')
  cfgScale?: number;

  @Field({ nullable: true, description: 'An A1111 label, e.g. "DPM++ 2M SDE Karras" or "Euler a" (the `samplers` query lists them).' })
  @MaxLength(100)
  sampler?: string;

  @Field({ nullable: true, description: 'A1111 "Schedule type" (Automatic, Normal, Karras, Exponential, Beta, ...: the `samplers` query lists them), overriding the one in the sampler label. Automatic: the schedule A1111 picks for the sampler.' })
  @MaxLength(100)
  scheduleType?: string;

  @Field(() => Int, { nullable: true, description: '1 uses the last CLIP layer, 2 the penultimate (A1111 "Clip skip").' })
  @InRange('clipSkip')
  clipSkip?: number;

  @Field(() => Float, { nullable: true, description: `0 to ${MAX_SEED}; -1 or none: random (the seed used is stored).` })
  @IsInt({ message: 'seed must be a whole number' })
  @Min(-1)
  @Max(settingRange('seed').max)
  seed?: number;

  @Field(() => RngSourceEnum, { nullable: true, description: 'A1111 "Random number generator source". Default NV: the noise A1111 and Forge draw on NVIDIA GPUs; CPU: torch\'s CPU generator, as ComfyUI and Civitai draw it.' })
  rngSource?: RngSource;

  @Field(() => Float, { nullable: true, description: `A1111 "Variation seed", 0 to ${MAX_SEED}; -1 or none: random. Image i of the batch uses subseed + i.` })
  @IsInt({ message: 'subseed must be a whole number' })
  @Min(-1)
  @Max(settingRange('subseed').max)
  subseed?: number;

  @Field(() => Float, { nullable: true, description: 'A1111 "Variation seed strength": 0 (default) keeps the seed\'s noise, 1 gives the variation seed\'s.' })
  @InRange('subseedStrength')
  subseedStrength?: number;

  @Field(() => Float, { nullable: true, description: `A1111 "Eta noise seed delta" (ENSD, e.g. 31337), 0 to ${MAX_SEED}: ancestral samplers draw their per-step noise from seed + ENSD. Default 0.` })
  @IsInt({ message: 'etaNoiseSeedDelta must be a whole number' })
  @InRange('etaNoiseSeedDelta')
  etaNoiseSeedDelta?: number;

  @Field(() => Int, { nullable: true, description: 'Images to make, 1 to 4; each costs one token.' })
  @InRange('batchSize')
  batchSize?: number;

  @Field({ nullable: true, description: 'Your id for this request: sending it again returns the same generation and charges nothing more.' })
  @Length(1, 200)
  clientRequestId?: string;

  @Field(() => WebhookInput, { nullable: true, description: 'Have the events of this generation posted to your server.' })
  webhook?: WebhookInput;
}
