import { Field, Float, Int, ObjectType } from 'type-graphql';
import type { TokenCountSource } from '../../prompts/token-counter.js';
import { PromptWarningCode } from '../../prompts/warnings.js';
import { graphqlEnum } from '../enum.js';

export const TokenCountSourceEnum = graphqlEnum(
  'TokenCountSource',
  ['TOKENIZER', 'ESTIMATE'] as const satisfies readonly TokenCountSource[],
  "TOKENIZER: counted with the model's own CLIP tokenizer. ESTIMATE: the model's files are not installed, so the count is an estimate (typically within 15%).",
);

@ObjectType({ description: "A piece of the prompt and its attention weight, as A1111's parse_prompt_attention gives them." })
export class PromptSegment {
  @Field()
  text!: string;

  @Field(() => Float, { description: '1 is neutral; (x) is 1.1, [x] 1/1.1, (x:1.3) 1.3. A BREAK is the text "BREAK" with weight -1.' })
  weight!: number;
}

@ObjectType({ description: 'Something to improve in a prompt. Warnings never block a generation.' })
export class PromptWarning {
  @Field({ description: `Stable code: ${Object.keys(PromptWarningCode).join(', ')}.` })
  code!: string;

  @Field()
  message!: string;

  @Field(() => Int, { nullable: true, description: 'Offset in the prompt where the problem starts (UTF-16 code units, as JavaScript counts).' })
  start!: number | null;

  @Field(() => Int, { nullable: true, description: 'Offset just past the problem.' })
  end!: number | null;

  @Field(() => String, { nullable: true, description: 'How to fix it, in words.' })
  suggestion!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Text that fixes it when put in place of start..end ("" deletes); null when there is no single fix.',
  })
  replacement!: string | null;
}

@ObjectType({ description: "A span of steps and the prompt text the model reads during it, as A1111's get_learned_conditioning_prompt_schedules gives it." })
export class PromptScheduleEntry {
  @Field(() => Int, { description: 'The text applies up to and including this step (A1111 counts model calls from 0, so the first entry also covers step 0).' })
  untilStep!: number;

  @Field({ description: 'The prompt for those steps: editing and alternation resolved, attention syntax kept.' })
  prompt!: string;
}

@ObjectType({ description: "One part of a prompt split at AND (A1111's composable prompts), with its weight." })
export class Subprompt {
  @Field({ description: 'The part, its `:weight` suffix removed.' })
  text!: string;

  @Field(() => Float, { description: 'What its difference from the negative prompt counts for in guidance: 1 unless written `part :0.7`.' })
  weight!: number;
}

@ObjectType({ description: 'A `<lora:name:weight>` tag of the prompt.' })
export class PromptLora {
  @Field()
  name!: string;

  @Field(() => Float, { nullable: true, description: "As written; null: the LoRA's defaultWeight applies." })
  weight!: number | null;

  @Field(() => Float, { nullable: true, description: 'The UNet weight of `<lora:name:te:unet>`, when written.' })
  unetWeight!: number | null;

  @Field({ description: 'Whether the LoRA catalog has it (the `loras` query).' })
  known!: boolean;

  @Field(() => [String])
  triggerWords!: string[];
}

@ObjectType({ description: 'One prompt, read as the model reads it.' })
export class AnalyzedPrompt {
  @Field(() => [PromptSegment])
  segments!: PromptSegment[];

  @Field(() => Int, { description: 'Tokens as A1111 counts them: every chunk but the last counts 75.' })
  tokenCount!: number;

  @Field(() => Int, { description: 'How many 75-token chunks the text encoder reads.' })
  chunks!: number;

  @Field(() => Int, { description: 'The "75" of "23/75": the next multiple of 75 at or above tokenCount.' })
  tokenLimit!: number;

  @Field(() => TokenCountSourceEnum)
  tokenCountSource!: TokenCountSource;

  @Field(() => Int, { nullable: true, description: "Flux: T5 tokens the prompt needs, end-of-sequence included (counted with the model's tokenizer_2 when installed, else estimated); null for other families." })
  t5TokenCount!: number | null;

  @Field(() => Int, { nullable: true, description: 'Flux: how many T5 tokens the model reads (256 for [schnell], 512 for [dev]); more is cut. Null for other families.' })
  t5TokenLimit!: number | null;

  @Field(() => [PromptWarning], { description: 'In the order of where they start.' })
  warnings!: PromptWarning[];

  @Field(() => [Subprompt], { description: 'The AND parts and their weights; the whole prompt at weight 1 without AND. A negative prompt is never split.' })
  subprompts!: Subprompt[];

  /** The prompt as written; read by the `schedule` field. */
  text!: string;
}

@ObjectType({ description: 'What Easel makes of a prompt for one model.' })
export class PromptAnalysis {
  @Field(() => AnalyzedPrompt)
  prompt!: AnalyzedPrompt;

  @Field(() => AnalyzedPrompt, { nullable: true, description: 'Null when no negative prompt was given.' })
  negativePrompt!: AnalyzedPrompt | null;

  @Field(() => [PromptLora], { description: "The prompt's LoRA tags, cut from what the text encoders read and merged into the model's weights." })
  loras!: PromptLora[];

  @Field({ description: "The prompt the model receives with `enhancePrompt`: the family's quality tags added, the user's text kept." })
  enhancedPrompt!: string;

  @Field({ description: "The negative prompt the model receives with `enhancePrompt`: the family's negative tags added." })
  enhancedNegativePrompt!: string;
}
