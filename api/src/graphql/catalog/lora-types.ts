import { ArrayMaxSize, ArrayMinSize, Length, Max, MaxLength, Min } from 'class-validator';
import { Field, Float, ID, InputType, ObjectType } from 'type-graphql';
import type { ModelFamily } from '@easel/schema';
import { ModelFamilyEnum } from './catalog-enums.js';

@ObjectType({ description: 'A LoRA people can use: `<lora:name:weight>` in a prompt, or generateImage\'s `loras`.' })
export class Lora {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'What prompts write: `<lora:name:0.8>`.' })
  name!: string;

  @Field(() => [ModelFamilyEnum], { description: 'The families it suits; other models refuse it.' })
  families!: ModelFamily[];

  @Field(() => [String], { description: 'Words it was trained to respond to; put one in the prompt.' })
  triggerWords!: string[];

  @Field(() => Float, { description: 'The weight of `<lora:name>` written without one.' })
  defaultWeight!: number;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true })
  source?: string | null;

  @Field({ description: 'A1111\'s short hash of the file (sha256 of its tensor data, 12 hex digits), as infotexts\' "Lora hashes" give it.' })
  shortHash!: string;

  @Field({ description: 'sha256 of the whole file, as Civitai lists it.' })
  sha256!: string;
}

@InputType({ description: 'Admins: a LoRA whose .safetensors file is already in LORAS_DIR; the file must read as a LoRA (kohya, LyCORIS or diffusers/PEFT keys).' })
export class AddLoraInput {
  @Field()
  @Length(1, 200)
  name!: string;

  @Field({ description: 'File name inside LORAS_DIR; only .safetensors (pickled .ckpt/.pt files are refused).' })
  @Length(1, 255)
  file!: string;

  @Field(() => [ModelFamilyEnum])
  @ArrayMinSize(1)
  families!: ModelFamily[];

  @Field(() => [String], { defaultValue: [] })
  @ArrayMaxSize(50)
  triggerWords!: string[];

  @Field(() => Float, { defaultValue: 1 })
  @Min(-10)
  @Max(10)
  defaultWeight!: number;

  @Field({ defaultValue: '' })
  @MaxLength(2000)
  description!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(500)
  source?: string | null;

  @Field({ defaultValue: false, description: 'Replace the entry of that name (new file or fields); queued generations then use the new file.' })
  replace!: boolean;
}
