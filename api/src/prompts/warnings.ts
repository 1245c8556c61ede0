/**
 * What the linter and the enhancer say about a prompt. Warnings never block a generation; their
 * codes are stable, so clients can explain, group or hide them.
 */
export const PromptWarningCode = {
  /** Two tags with no comma between: `masterpiece best quality`, `(red hair) blue eyes`. */
  MISSING_COMMA: 'MISSING_COMMA',
  /** Capitals in a tag of a tag-style model: tags are lowercase. */
  UPPERCASE_TAG: 'UPPERCASE_TAG',
  /** A tag written twice, whatever the weights, case, or underscores. */
  DUPLICATE_TAG: 'DUPLICATE_TAG',
  /** A weight the parser cannot read: `(tag:1,2)`, `(tag 1.2)`, `tag:1.2` without brackets. */
  MALFORMED_WEIGHT: 'MALFORMED_WEIGHT',
  /** A bracket never closed, one that closes nothing, or brackets that cross. */
  UNBALANCED_BRACKETS: 'UNBALANCED_BRACKETS',
  /** A backslash that escapes nothing, which the parser drops. */
  LONE_BACKSLASH: 'LONE_BACKSLASH',
  /** A weight below 0.1 or above 2.0, nested brackets included. */
  WEIGHT_OUT_OF_RANGE: 'WEIGHT_OUT_OF_RANGE',
  /** Pony's score tags on a model of another family. */
  SCORE_TAG_NOT_PONY: 'SCORE_TAG_NOT_PONY',
  /** A list of tags for Flux, which reads sentences. */
  TAG_STYLE_PROMPT: 'TAG_STYLE_PROMPT',
  /** Flux: the prompt is longer than T5 reads (256 or 512 tokens); the rest is cut. */
  T5_PROMPT_CUT: 'T5_PROMPT_CUT',
  /** Flux: attention weights such as (word:1.3) have no effect; the text is read plain. */
  WEIGHTS_IGNORED: 'WEIGHTS_IGNORED',
  /** Flux: a negative prompt, which FLUX.1 cannot use (no classifier-free guidance); generateImage refuses it. */
  NEGATIVE_PROMPT_UNUSED: 'NEGATIVE_PROMPT_UNUSED',
  /** Two or more characters in one prompt (`2girls`, `1girl, 1boy`). */
  MULTIPLE_CHARACTERS: 'MULTIPLE_CHARACTERS',
  /** More than seven quality tags. */
  TOO_MANY_QUALITY_TAGS: 'TOO_MANY_QUALITY_TAGS',
  /** The enhancer took a score tag out of an Illustrious prompt. */
  SCORE_TAG_REMOVED: 'SCORE_TAG_REMOVED',
  /** `<lora:name>` naming no LoRA of the catalog. */
  LORA_UNKNOWN: 'LORA_UNKNOWN',
  /** A LoRA made for another family than the model's. */
  LORA_WRONG_FAMILY: 'LORA_WRONG_FAMILY',
  /** None of the LoRA's trigger words is in the prompt. */
  LORA_TRIGGER_MISSING: 'LORA_TRIGGER_MISSING',
  /** A `<lora:…>` tag that cannot be read (no name, a weight that is not a number). */
  LORA_UNREADABLE: 'LORA_UNREADABLE',
  /** A `<lora:…>` tag in a negative prompt, where it applies nothing. */
  LORA_IN_NEGATIVE: 'LORA_IN_NEGATIVE',
} as const;
export type PromptWarningCode = (typeof PromptWarningCode)[keyof typeof PromptWarningCode];

export interface PromptWarning {
  code: PromptWarningCode;
  /** One sentence a person understands. */
  message: string;
  /** Offsets into the prompt as sent (UTF-16 code units, as JavaScript counts), end exclusive. */
  start: number | null;
  end: number | null;
  /** How to fix it, in words. */
  suggestion: string | null;
  /** Text that fixes it when put in place of start..end ('' deletes); null when there is no one fix. */
  replacement: string | null;
}

export function warning(
  code: PromptWarningCode,
  message: string,
  where: { start?: number; end?: number; suggestion?: string; replacement?: string } = {},
): PromptWarning {
  return {
    code,
    message,
    start: where.start ?? null,
    end: where.end ?? null,
    suggestion: where.suggestion ?? null,
    replacement: where.replacement ?? null,
  };
}

/** `"long hair"`, shortened when long, for messages. */
export function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return JSON.stringify(oneLine.length > 40 ? `${oneLine.slice(0, 39)}…` : oneLine);
}
