/**
 * A1111's LoRA tags: `<lora:name>`, `<lora:name:weight>`, `<lora:name:te:unet>` and the named forms
 * `<lora:name:te=0.8:unet=0.6>` (`lyco:` is the old LyCORIS extension's spelling of the same).
 * As A1111 does, the tags are cut from the text before the attention syntax is parsed, so the text
 * encoders never see them; they may sit anywhere, even inside brackets. Other `<…>` text is left
 * alone.
 */

export interface LoraTag {
  name: string;
  /** Text encoder multiplier, and the UNet's unless `unetWeight` says otherwise; absent: the LoRA's default. */
  weight?: number;
  unetWeight?: number;
  /** Where the tag sits in the original prompt, for messages. */
  start: number;
  end: number;
}

export interface LoraTagProblem {
  message: string;
  start: number;
  end: number;
}

export interface ExtractedLoras {
  /** The prompt without its LoRA tags, what the text encoders see. */
  text: string;
  tags: LoraTag[];
  problems: LoraTagProblem[];
}

// A1111's extra-network pattern: <kind:arguments>, arguments up to the first `>`.
const TAG = /<(lora|lyco):([^>]+)>/gi;

function number(text: string): number | undefined {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(value) ? value : undefined;
}

function readTag(args: string, start: number, end: number): LoraTag | LoraTagProblem {
  const [rawName, ...rest] = args.split(':');
  const name = rawName.trim();
  if (!name) return { message: 'a <lora:…> tag without a name', start, end };
  const tag: LoraTag = { name, start, end };
  const positional: string[] = [];
  for (const arg of rest) {
    const named = /^\s*(te|unet)\s*=(.*)$/i.exec(arg);
    const value = number(named ? named[2] : arg);
    if (value === undefined) return { message: `<lora:${name}:…> has a weight that is not a number: "${arg.trim()}"`, start, end };
    if (named?.[1].toLowerCase() === 'te') tag.weight = value;
    else if (named) tag.unetWeight = value;
    else positional.push(arg);
  }
  if (positional.length > 2) return { message: `<lora:${name}:…> has ${positional.length} weights; at most two (text encoder, UNet)`, start, end };
  if (positional[0] !== undefined) tag.weight = number(positional[0]);
  if (positional[1] !== undefined) tag.unetWeight = number(positional[1]);
  return tag;
}

export function extractLoraTags(prompt: string): ExtractedLoras {
  const tags: LoraTag[] = [];
  const problems: LoraTagProblem[] = [];
  for (const match of prompt.matchAll(TAG)) {
    const read = readTag(match[2], match.index, match.index + match[0].length);
    if ('message' in read) problems.push(read);
    else tags.push(read);
  }
  return { text: prompt.replace(TAG, ''), tags, problems };
}

/** A tag as A1111 writes it into a prompt (and so into the infotext). */
export function formatLoraTag(lora: { name: string; weight: number; unetWeight?: number }): string {
  const unet = lora.unetWeight !== undefined && lora.unetWeight !== lora.weight ? `:${lora.unetWeight}` : '';
  return `<lora:${lora.name}:${lora.weight}${unet}>`;
}
