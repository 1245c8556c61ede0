import { BREAK_TEXT, isBreakWordAt, type BracketPair, type ScannedPrompt, type TextRun } from '@easel/schema';
import { cleanText } from '@easel/schema';

/**
 * A prompt read as tags: the pieces between commas (and BREAKs), whatever brackets they sit in.
 * `(red hair, blue eyes:1.2)` is two tags of weight 1.2. In a natural-language prompt the
 * "tags" are its comma-separated phrases.
 */
export interface PromptTag {
  /** What the model reads: escapes resolved, attention syntax left out, spaces trimmed. */
  text: string;
  /** The same tag however it is written: see `tagKey`. */
  key: string;
  /** The written text, first to last character, without the brackets around it. */
  textStart: number;
  textEnd: number;
  /** The tag with the brackets that hold nothing else: all of `(masterpiece:1.2)`. */
  start: number;
  end: number;
  /** The weight of each piece of its text; one value when the whole tag weighs the same. */
  weights: number[];
  /** What the brackets from `start` to `end` multiply it by; 1 without any. */
  ownWeight: number;
}

/** Lowercase, underscores as spaces, runs of spaces as one: `Long_Hair` and `long  hair` are one tag. */
export function tagKey(text: string): string {
  return cleanText(text.replace(/_/g, ' '));
}

interface Fragment {
  text: string;
  start: number;
  end: number;
  weight: number;
  escaped: boolean;
}

export function splitTags(scan: ScannedPrompt): PromptTag[] {
  const pairsByOpen = new Map(scan.pairs.map((pair) => [pair.open, pair]));
  const tags: PromptTag[] = [];
  let fragments: Fragment[] = [];
  const endTag = () => {
    const tag = toTag(scan.source, fragments, pairsByOpen);
    if (tag) tags.push(tag);
    fragments = [];
  };

  for (const run of scan.runs) {
    if (run.kind === 'break') {
      endTag();
    } else if (run.kind === 'escape') {
      fragments.push(fragment(run, 0, run.text.length, true));
    } else {
      let from = 0;
      for (let comma = run.text.indexOf(','); comma !== -1; comma = run.text.indexOf(',', from)) {
        fragments.push(fragment(run, from, comma, false));
        endTag();
        from = comma + 1;
      }
      fragments.push(fragment(run, from, run.text.length, false));
    }
  }
  endTag();
  return tags;
}

function fragment(run: TextRun, from: number, to: number, escaped: boolean): Fragment {
  return escaped
    ? { text: run.text, start: run.start, end: run.end, weight: run.weight, escaped }
    : { text: run.text.slice(from, to), start: run.start + from, end: run.start + to, weight: run.weight, escaped };
}

function toTag(source: string, fragments: Fragment[], pairsByOpen: Map<number, BracketPair>): PromptTag | undefined {
  const written = fragments.filter((f) => f.text.trim() !== '');
  if (written.length === 0) return undefined;
  const first = written[0];
  const last = written.at(-1)!;
  const textStart = first.escaped ? first.start : first.start + (first.text.length - first.text.trimStart().length);
  const textEnd = last.escaped ? last.end : last.end - (last.text.length - last.text.trimEnd().length);
  const text = fragments.map((f) => f.text).join('').trim();
  const element = enclosingBrackets(source, pairsByOpen, textStart, textEnd);
  return {
    text,
    key: tagKey(text),
    textStart,
    textEnd,
    ...element,
    weights: [...new Set(written.map((f) => f.weight))],
  };
}

/** Widens a tag's span over each pair of brackets that holds only it (and spaces). */
function enclosingBrackets(source: string, pairsByOpen: Map<number, BracketPair>, start: number, end: number) {
  let ownWeight = 1;
  for (;;) {
    const pair = pairsByOpen.get(skipSpacesBackward(source, start) - 1);
    if (!pair || pair.closeStart !== skipSpacesForward(source, end)) return { start, end, ownWeight };
    start = pair.open;
    end = pair.closeEnd;
    ownWeight *= pair.multiplier;
  }
}

/**
 * Where to cut to remove a tag cleanly: the tag with the comma (or BREAK) after it, else with the
 * one before it, and the spaces around that separator. `text` may be the prompt with tags
 * further right already removed: everything up to the tag's end is unchanged by that.
 */
export function removalSpan(text: string, tag: Pick<PromptTag, 'start' | 'end'>): { start: number; end: number } {
  const next = skipSpacesForward(text, tag.end);
  const nextSeparator = separatorLength(text, next);
  if (nextSeparator > 0) return { start: tag.start, end: skipSpacesForward(text, next + nextSeparator) };

  const previous = skipSpacesBackward(text, tag.start);
  if (text[previous - 1] === ',') return { start: skipSpacesBackward(text, previous - 1), end: tag.end };
  const breakBefore = previous - BREAK_TEXT.length;
  if (breakBefore >= 0 && isBreakWordAt(text, breakBefore)) return { start: skipSpacesBackward(text, breakBefore), end: tag.end };
  return { start: tag.start, end: tag.end };
}

function separatorLength(text: string, at: number): number {
  if (text[at] === ',') return 1;
  return isBreakWordAt(text, at) ? BREAK_TEXT.length : 0;
}

export function skipSpacesForward(text: string, at: number): number {
  while (at < text.length && /\s/.test(text[at])) at++;
  return at;
}

export function skipSpacesBackward(text: string, at: number): number {
  while (at > 0 && /\s/.test(text[at - 1])) at--;
  return at;
}
