import { ArrayMaxSize, IsDivisibleBy, IsInt, Length, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { Field, Float, ID, InputType, Int } from 'type-graphql';
import { GenerationSettings, HIRES_UPSCALERS, LoraSetting, MAX_LORAS, MAX_SEED, SIZE_MULTIPLE, settingRange, type HiresUpscaler, type NumericSetting, type RngSource } from '@easel/schema';
import type { GenerateImageRequest, HiresFixRequest } from '../../generations/create/settings.js';
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
const LORA_WEIGHT = { min: LoraSetting.shape.weight.minValue!, max: LoraSetting.shape.weight.maxValue! };

// Here the shapes and the ranges any model shares. What depends on the model (its sizes, that it
// exists and is installed), the sampler name and the base image are checked by the generation
// service, and the job contract has the last word there.

@InputType({ description: "A1111's hires fix: make the image at width x height, upscale it, and refine it with an img2img pass of denoiseStrength (default 0.75)." })
export class HiresFixInput implements HiresFixRequest {
  @Field(() => Float, { nullable: true, description: 'Hires upscale: the factor, when no resize is given. Default 2.' })
  scale?: number;

  @Field(() => Int, { nullable: true, description: 'Hires resize: the width; 0 follows the aspect. Both 0: use scale.' })
  resizeWidth?: number;

  @Field(() => Int, { nullable: true, description: 'Hires resize: the height; 0 follows the aspect.' })
  resizeHeight?: number;

  @Field(() => String, { nullable: true, description: `Hires upscaler, as A1111 names it: ${HIRES_UPSCALERS.join(', ')}. Default Latent.` })
  @MaxLength(100)
  upscaler?: HiresUpscaler;

  @Field(() => Int, { nullable: true, description: 'Hires steps; 0 or absent: the same as steps.' })
  steps?: number;

  @Field(() => String, { nullable: true, description: 'Hires prompt; absent: the prompt.' })
  @MaxLength(10_000)
  prompt?: string;

  @Field(() => String, { nullable: true, description: 'Hires negative prompt; absent: the negative prompt.' })
  @MaxLength(10_000)
  negativePrompt?: string;

  @Field(() => String, { nullable: true, description: 'Hires sampler, an A1111 label; absent: the first pass\'s.' })
  @MaxLength(100)
  sampler?: string;

  @Field(() => String, { nullable: true, description: 'Hires schedule type; absent: the first pass\'s.' })
  @MaxLength(100)
  scheduleType?: string;
}

@InputType({ description: 'A LoRA to merge into the model for this generation, as `<lora:name:weight>` in the prompt would.' })
export class LoraInput {
  @Field({ description: 'Its name in the `loras` query.' })
  @Length(1, 200)
  name!: string;

  @Field(() => Float, { nullable: true, description: `Multiplier of its change, ${LORA_WEIGHT.min} to ${LORA_WEIGHT.max}; default: the LoRA's defaultWeight.` })
  @Min(LORA_WEIGHT.min)
  @Max(LORA_WEIGHT.max)
  weight?: number;

  @Field(() => Float, { nullable: true, description: 'A separate multiplier for the UNet (A1111 `<lora:name:te:unet>`); default: weight.' })
  @Min(LORA_WEIGHT.min)
  @Max(LORA_WEIGHT.max)
  unetWeight?: number;
}

@InputType({ description: 'What to generate. Settings left out come from the model\'s defaults (see `model { defaults }`).' })
export class GenerateImageInput implements GenerateImageRequest {
  @Field(() => ID, { description: 'Catalog id or slug.' })
  @Length(1, 200)
  modelId!: string;

  @Field({ description: 'A1111 prompt syntax: (emphasis:1.2), [less], BREAK, <lora:name:weight>.' })
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

  @Field(() => Float, { nullable: true, description: 'FLUX.1 [dev]-type models only: distilled guidance, 0 to 30 (Forge "Distilled CFG Scale"); the model default is 3.5. Other models refuse it.' })
  @InRange('guidance')
  guidance?: number;

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

  @Field(() => HiresFixInput, { nullable: true, description: "A1111's hires fix (text-to-image only). Still one token per image." })
  hires?: HiresFixInput;

  @Field(() => Boolean, {
    nullable: true,
    description: 'A1111 "pad conds": run prompt and negative prompt at one length (the shorter padded with empty chunks). Default false: each at its own length, as A1111 does.',
  })
  padConds?: boolean;

  @Field(() => [LoraInput], { nullable: true, description: `LoRAs besides the prompt's <lora:…> tags, at most ${MAX_LORAS} in all; they are added to the prompt as tags.` })
  @ArrayMaxSize(MAX_LORAS)
  @ValidateNested()
  loras?: LoraInput[];

  @Field({ nullable: true, description: 'Your id for this request: sending it again returns the same generation and charges nothing more.' })
  @Length(1, 200)
  clientRequestId?: string;

  @Field(() => WebhookInput, { nullable: true, description: 'Have the events of this generation posted to your server.' })
  webhook?: WebhookInput;
}
