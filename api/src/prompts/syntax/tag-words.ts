import { tagKey, type PromptTag } from './tags.js';

/** A stretch of the prompt, first character to one past the last. */
export interface Span {
  start: number;
  end: number;
}

/** A run of a tag's words that makes up one vocabulary phrase: `words[first]` to `words[first + count - 1]`. */
export interface WordPhrase extends Span {
  first: number;
  count: number;
}

/**
 * A tag's words as written, with their places in the prompt. Brackets, spaces and the colon of a
 * weight split them, so `(smile:1.2) 2girls` gives smile, 1.2 and 2girls.
 */
export function tagWords(source: string, tag: PromptTag): Span[] {
  return [...source.slice(tag.textStart, tag.textEnd).matchAll(/[^\s()[\]:]+/g)].map((match) => ({
    start: tag.textStart + match.index,
    end: tag.textStart + match.index + match[0].length,
  }));
}

/** The spaces between two words, when nothing but spaces is there. */
export function plainGap(source: string, left: Span, right: Span): Span | undefined {
  return /^\s+$/.test(source.slice(left.end, right.start)) ? { start: left.end, end: right.start } : undefined;
}

/**
 * The phrases of up to `longest` words, joined by spaces alone, whose key (see `tagKey`) `isPhrase`
 * accepts; left to right, the longest at each word first, never overlapping.
 */
export function findPhrases(source: string, words: Span[], longest: number, isPhrase: (key: string) => boolean): WordPhrase[] {
  const phrases: WordPhrase[] = [];
  for (let first = 0; first < words.length; ) {
    const count = phraseLengthAt(source, words, first, longest, isPhrase);
    if (count === 0) {
      first++;
      continue;
    }
    phrases.push({ first, count, start: words[first].start, end: words[first + count - 1].end });
    first += count;
  }
  return phrases;
}

function phraseLengthAt(source: string, words: Span[], first: number, longest: number, isPhrase: (key: string) => boolean): number {
  for (let count = Math.min(longest, words.length - first); count > 0; count--) {
    const phrase = words.slice(first, first + count);
    const joined = phrase.every((word, k) => k === 0 || plainGap(source, phrase[k - 1], word));
    if (joined && isPhrase(tagKey(source.slice(phrase[0].start, phrase.at(-1)!.end)))) return count;
  }
  return 0;
}
