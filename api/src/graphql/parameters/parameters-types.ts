import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'An infotext field Easel could not use, and why.' })
export class UnmappedParameter {
  @Field({ description: 'As the infotext names it, e.g. "Model hash".' })
  key!: string;

  @Field()
  value!: string;

  @Field({ description: 'Why no setting took it, in words.' })
  reason!: string;
}

@ObjectType({ description: "The hires fix as the infotext gives it (A1111's Hires fields); absent fields use their defaults." })
export class PastedHiresFix {
  @Field(() => Float, { nullable: true, description: 'Hires upscale.' })
  scale?: number;

  @Field(() => Int, { nullable: true, description: 'Hires resize, width; 0 follows the aspect.' })
  resizeWidth?: number;

  @Field(() => Int, { nullable: true, description: 'Hires resize, height; 0 follows the aspect.' })
  resizeHeight?: number;

  @Field(() => String, { nullable: true, description: 'Hires upscaler, e.g. "Latent" or "Lanczos".' })
  upscaler?: string;

  @Field(() => Int, { nullable: true, description: 'Hires steps; 0 or absent: the same as steps.' })
  steps?: number;

  @Field(() => String, { nullable: true })
  prompt?: string;

  @Field(() => String, { nullable: true })
  negativePrompt?: string;

  @Field(() => String, { nullable: true, description: 'Hires sampler, an A1111 label; absent: the first pass\'s.' })
  sampler?: string;

  @Field(() => String, { nullable: true })
  scheduleType?: string;
}

@ObjectType({
  description: "An infotext read into generateImage's input: each field as GenerateImageInput names it, null when the infotext does not give it, and every field Easel could not map.",
})
export class PastedParameters {
  @Field()
  prompt!: string;

  @Field()
  negativePrompt!: string;

  @Field(() => Int, { nullable: true })
  width?: number;

  @Field(() => Int, { nullable: true })
  height?: number;

  @Field(() => Int, { nullable: true })
  steps?: number;

  @Field(() => Float, { nullable: true })
  cfgScale?: number;

  @Field(() => String, { nullable: true, description: 'An A1111 sampler label, as generateImage takes it.' })
  sampler?: string;

  @Field(() => String, { nullable: true })
  scheduleType?: string;

  @Field(() => Int, { nullable: true })
  clipSkip?: number;

  @Field(() => Float, { nullable: true })
  seed?: number;

  @Field(() => Float, { nullable: true, description: 'A1111 "Denoising strength": img2img, or the hires pass.' })
  denoiseStrength?: number;

  @Field(() => Boolean, { nullable: true, description: 'A1111 "Pad conds".' })
  padConds?: boolean;

  @Field(() => PastedHiresFix, { nullable: true, description: 'Present when the infotext has Hires fields.' })
  hires?: PastedHiresFix;

  @Field(() => String, { nullable: true, description: 'The "Model" field: find it in the catalog by name (Easel picks models by id, not hash).' })
  modelName?: string;

  @Field(() => [UnmappedParameter], { description: 'In the order written.' })
  unmapped!: UnmappedParameter[];
}
