/**
 * Composable diffusion (Liu et al. 2022), A1111's `AND`: `a cat AND a dog :0.7` is two prompts,
 * each denoised on its own, whose differences from the negative prompt are added with their
 * weights (1 and 0.7) in classifier-free guidance. Read as A1111's `get_multicond_prompt_list`
 * reads it: the prompt is split at every whole word AND (brackets do not protect it), and a
 * `:number` at the end of a part is its weight. Only the prompt is split; the negative prompt is
 * read as plain text.
 */

export interface Subprompt {
  /** The part's text, its weight suffix and trailing whitespace removed (leading whitespace kept, as A1111 keeps it). */
  text: string;
  weight: number;
  /** Where `text` starts in the prompt. */
  start: number;
}

/** AND as a whole word; "word" is Python's Unicode `\w`, which is what A1111's `\b` means. */
const AND_WORD = /(?<![\p{L}\p{N}_])AND(?![\p{L}\p{N}_])/gu;
/** A1111's re_weight: the shortest text, then an optional `: number`, then trailing whitespace. */
const WEIGHT_SUFFIX = /^([\s\S]*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$/;

export function splitSubprompts(prompt: string): Subprompt[] {
  const starts = [0, ...Array.from(prompt.matchAll(AND_WORD), (match) => match.index + match[0].length)];
  return prompt.split(AND_WORD).map((part, i) => {
    const [, text, weight] = WEIGHT_SUFFIX.exec(part)!;
    return { text, weight: weight === undefined ? 1 : Number(weight), start: starts[i] };
  });
}
