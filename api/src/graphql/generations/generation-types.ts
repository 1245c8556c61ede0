import { DateTimeResolver } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import type { ModelFamily, RngSource } from '@easel/schema';
import { GENERATION_STATUSES, type GenerationStatus } from '../../generations/generation.js';
import { ModelFamilyEnum } from '../catalog/catalog-enums.js';
import { ImageSize, ModelDefaults } from '../catalog/model-types.js';
import { graphqlEnum } from '../enum.js';
import { ConnectionType } from '../pagination.js';
import { RngSourceEnum } from '../samplers/sampler-types.js';

export const GenerationStatusEnum = graphqlEnum(
  'GenerationStatus',
  GENERATION_STATUSES,
  'QUEUED: paid for, waiting for the GPU. RUNNING: on the GPU. SUCCEEDED: images ready. FAILED and CANCELLED: ended without images, tokens refunded.',
);

// The fields named in issue 4 (and their types, DateTime included) are what clients rely on.

@ObjectType({ description: 'A stored image: its size, and where its owner fetches it.' })
export class ImageFile extends ImageSize {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Absolute URL of the file, served to its owner only (send the API key).' })
  url!: string;

  @Field({ description: '`url` with a signature that stands in for the API key, for `<img src>`; it works for one to two hours.' })
  signedUrl!: string;
}

@ObjectType({ description: 'One image of a finished generation (a PNG).' })
export class GeneratedImage extends ImageFile {
  @Field(() => Float, { description: 'The seed of this image (the generation seed + its index in the batch).' })
  seed!: number;

  @Field(() => String, {
    nullable: true,
    description: 'A1111\'s "infotext": the settings as the PNG\'s `parameters` text chunk holds them (what A1111\'s PNG Info reads and "Copy parameters" copies).',
  })
  infotext!: string | null;
}

@ObjectType({ description: 'The catalog model a generation ran on, as it was when queued.' })
export class GenerationModelRef {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => ModelFamilyEnum)
  family!: ModelFamily;
}

@ObjectType({ description: "The hires fix a generation runs with (A1111's hr_* parameters), its defaults filled in." })
export class HiresFixSettings {
  @Field(() => Float, { description: 'The upscale factor, used when no resize is given.' })
  scale!: number;

  @Field(() => Int, { description: 'The resize width; 0 follows the aspect (both 0: `scale`).' })
  resizeWidth!: number;

  @Field(() => Int)
  resizeHeight!: number;

  @Field({ description: 'As A1111 names it, e.g. "Latent".' })
  upscaler!: string;

  @Field(() => Int, { description: 'Steps of the second pass; 0: the same as `steps`.' })
  steps!: number;

  @Field({ description: "The second pass's prompt; '': the prompt." })
  prompt!: string;

  @Field({ description: "The second pass's negative prompt; '': the negative prompt." })
  negativePrompt!: string;

  @Field(() => String, { nullable: true, description: "The second pass's sampler id; null: the first pass's." })
  samplerId!: string | null;

  @Field(() => String, { nullable: true, description: "The second pass's schedule id; null: the first pass's." })
  schedule!: string | null;
}

@ObjectType('GenerationSettings', { description: 'The settings a generation runs with, after the model defaults filled the gaps.' })
export class GenerationSettingsInfo extends ModelDefaults {
  @Field({ description: 'Sampler id, e.g. "dpmpp_2m_sde".' })
  samplerId!: string;

  @Field({ description: 'Sigma schedule id, e.g. "karras" (the `samplers` query lists them).' })
  schedule!: string;

  @Field({ description: 'A1111 "Schedule type" label of `schedule`, e.g. "Karras".' })
  scheduleLabel!: string;

  @Field(() => Float, { description: 'The seed used (a random one when none was asked for).' })
  seed!: number;

  @Field(() => RngSourceEnum)
  rngSource!: RngSource;

  @Field(() => Float, { description: 'The variation seed; it counts only when subseedStrength > 0.' })
  subseed!: number;

  @Field(() => Float)
  subseedStrength!: number;

  @Field(() => Float, { description: 'Eta noise seed delta (ENSD).' })
  etaNoiseSeedDelta!: number;

  @Field(() => Int)
  batchSize!: number;

  @Field(() => Float, { description: 'img2img only: how much of the base image was repainted.' })
  denoiseStrength!: number;

  @Field({ description: "A1111's pad_cond_uncond: the shorter of prompt and negative prompt padded to the other's length." })
  padConds!: boolean;

  @Field(() => HiresFixSettings, { nullable: true, description: 'Null without a hires fix.' })
  hires!: HiresFixSettings | null;
}

@ObjectType({ description: 'Milliseconds spent in each phase of a finished generation.' })
export class GenerationTimings {
  @Field(() => Float, { nullable: true, description: 'From queued to started on the GPU.' })
  queueMs?: number;

  @Field(() => Float, { nullable: true, description: 'Loading the model.' })
  loadMs?: number;

  @Field(() => Float, { nullable: true, description: 'Of `loadMs`, merging the LoRAs into the model and opening its sessions (0 when that LoRA set was cached); null without LoRAs.' })
  loraMs?: number;

  @Field(() => Float, { nullable: true, description: 'Text encoding, denoising and decoding.' })
  inferenceMs?: number;

  @Field(() => Float, { nullable: true, description: 'The whole run on the GPU function.' })
  totalMs?: number;
}

@ObjectType({ description: 'Something to know about a generation\'s result.' })
export class GenerationWarning {
  @Field({ description: 'Stable, for programs: LORA_KEYS_UNMATCHED (a LoRA applied only in part: keys that match no layer of the model).' })
  code!: string;

  @Field({ description: 'For people: what happened, with names and counts.' })
  message!: string;
}

@ObjectType({ description: 'One generateImage call, from queued to its images.' })
export class Generation {
  @Field(() => ID)
  id!: string;

  @Field(() => GenerationStatusEnum)
  status!: GenerationStatus;

  @Field(() => Int, { nullable: true, description: '1 when it is next to run; null when it is not QUEUED.' })
  queuePosition!: number | null;

  @Field(() => Int, { description: 'Denoising steps done so far.' })
  step!: number;

  @Field(() => Int)
  totalSteps!: number;

  @Field(() => Float, { nullable: true, description: 'Seconds until it completes, estimated while it runs.' })
  etaSeconds?: number;

  @Field(() => String, { nullable: true, description: 'The latest step preview, as a data: URL (WebP) to put in an <img>.' })
  previewUrl!: string | null;

  @Field(() => [GeneratedImage])
  images!: GeneratedImage[];

  @Field(() => String, { nullable: true, description: 'Why it failed or was cancelled, for people.' })
  error?: string;

  @Field(() => String, { nullable: true, description: 'Why it failed, for programs: CANCELLED, LEASE_EXPIRED, or the GPU function\'s code (MODEL_NOT_INSTALLED, OUT_OF_MEMORY, ...).' })
  errorCode?: string;

  @Field({ description: 'The prompt as the user wrote it.' })
  prompt!: string;

  @Field({ description: 'The prompt the model receives, after the prompt enhancer.' })
  finalPrompt!: string;

  @Field(() => String, { nullable: true })
  negativePrompt?: string;

  @Field(() => String, { nullable: true })
  finalNegativePrompt?: string;

  @Field()
  enhancePrompt!: boolean;

  @Field(() => GenerationModelRef)
  model!: GenerationModelRef;

  @Field(() => GenerationSettingsInfo)
  settings!: GenerationSettingsInfo;

  @Field(() => Float, { description: 'The seed used; image i of the batch has seed + i.', deprecationReason: 'Use `settings { seed }`.' })
  seed!: number;

  @Field({ description: 'A1111 label of the sampler and schedule, e.g. "DPM++ 2M SDE Karras".', deprecationReason: 'Use `settings { sampler }` (and `settings { samplerId schedule scheduleLabel }`).' })
  sampler!: string;

  @Field(() => ID, { nullable: true, description: 'The uploaded image img2img started from.' })
  baseImageId!: string | null;

  @Field(() => ImageFile, { nullable: true, description: 'The uploaded image img2img started from, to show or reuse; null for text-to-image (or once the upload is gone).' })
  baseImage!: ImageFile | null;

  @Field(() => Int, { description: 'Tokens paid: one per image.' })
  tokensCharged!: number;

  @Field({ description: 'Whether the tokens came back (FAILED and CANCELLED).' })
  refunded!: boolean;

  @Field({ description: 'A cancel was asked for while it ran; it stops at the next step.' })
  cancelRequested!: boolean;

  @Field(() => String, { nullable: true })
  clientRequestId?: string;

  @Field(() => GenerationTimings, { nullable: true })
  timings?: GenerationTimings;

  @Field(() => [GenerationWarning], { description: 'What to know about the result (empty for most): what the model does with the prompt that its writer may not expect (a Flux prompt whose weights are read as plain words, or that T5 cuts), from the start; a LoRA that matched the model only in part, once it has run.' })
  warnings!: GenerationWarning[];

  @Field(() => DateTimeResolver)
  createdAt!: Date;

  @Field(() => DateTimeResolver)
  updatedAt!: Date;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the GPU function began it.' })
  startedAt?: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  finishedAt?: Date;
}

@ObjectType({ description: 'A page of generations, newest first.' })
export class GenerationConnection extends ConnectionType(Generation, { name: 'Generation', item: 'generation' }) {}
