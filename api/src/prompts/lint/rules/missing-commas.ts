import { findPhrases, plainGap, tagWords, type Span as Gap } from '../../syntax/tag-words.js';
import type { PromptTag } from '../../syntax/tags.js';
import { isStandaloneTag } from '../../vocabulary.js';
import { PromptWarningCode, quote, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

/**
 * Tags are separated by commas; spaces alone run two tags into one. A gap inside a tag is taken
 * for a missing comma when it is a line break, when it sits between a bracket group and more
 * text (`(red hair) blue eyes`), or when a tag that always stands alone (`masterpiece`, `1girl`)
 * has other words beside it.
 */
export const missingCommas: LintRule = {
  code: PromptWarningCode.MISSING_COMMA,
  readsNegativePrompt: true,
  check: ({ scan, tags, promptStyle }) => {
    if (promptStyle !== 'TAGS') return [];
    const brackets: Brackets = {
      opens: new Set(scan.pairs.map((pair) => pair.open)),
      closes: new Set(scan.pairs.map((pair) => pair.closeEnd - 1)),
    };
    return tags.flatMap((tag) => checkTag(scan.source, brackets, tag));
  },
};

/** Where the matched brackets are (escaped and stray ones are text). */
interface Brackets {
  opens: ReadonlySet<number>;
  closes: ReadonlySet<number>;
}

const LONGEST_STANDALONE_TAG = 3; // words

function checkTag(source: string, brackets: Brackets, tag: PromptTag): PromptWarning[] {
  const gaps = new Map<number, Gap>();
  const add = (gap: Gap) => gaps.set(gap.start, gap);
  lineBreaks(source, tag).forEach(add);
  bracketEdges(source, brackets, tag).forEach(add);
  standaloneTagEdges(source, tag).forEach(add);
  return [...gaps.values()].sort((a, b) => a.start - b.start).map((gap) => explain(source, tag, gap));
}

function lineBreaks(source: string, tag: PromptTag): Gap[] {
  return spaces(source, tag).filter((gap) => source.slice(gap.start, gap.end).includes('\n'));
}

function bracketEdges(source: string, { opens, closes }: Brackets, tag: PromptTag): Gap[] {
  return spaces(source, tag).filter(
    (gap) => (closes.has(gap.start - 1) && !closes.has(gap.end)) || (opens.has(gap.end) && !opens.has(gap.start - 1)),
  );
}

/** Finds the standalone tags among a tag's words, longest first, and the gaps on either side of each. */
function standaloneTagEdges(source: string, tag: PromptTag): Gap[] {
  const words = tagWords(source, tag);
  return findPhrases(source, words, LONGEST_STANDALONE_TAG, isStandaloneTag).flatMap(({ first, count }) => {
    const before = first > 0 ? plainGap(source, words[first - 1], words[first]) : undefined;
    const after = first + count < words.length ? plainGap(source, words[first + count - 1], words[first + count]) : undefined;
    return [before, after].filter((gap) => gap !== undefined);
  });
}

function spaces(source: string, tag: PromptTag): Gap[] {
  return [...source.slice(tag.textStart, tag.textEnd).matchAll(/\s+/g)].map((match) => ({
    start: tag.textStart + match.index,
    end: tag.textStart + match.index + match[0].length,
  }));
}

function explain(source: string, tag: PromptTag, gap: Gap): PromptWarning {
  let start = gap.start;
  while (start > tag.textStart && !/\s/.test(source[start - 1])) start--;
  let end = gap.end;
  while (end < tag.textEnd && !/\s/.test(source[end])) end++;
  const [left, space, right] = [source.slice(start, gap.start), source.slice(gap.start, gap.end), source.slice(gap.end, end)];
  return warning(PromptWarningCode.MISSING_COMMA, `No comma between ${quote(left)} and ${quote(right)}, so they are read as one tag.`, {
    start,
    end,
    suggestion: 'Separate tags with commas.',
    replacement: `${left},${space.includes('\n') ? space : ' '}${right}`,
  });
}
