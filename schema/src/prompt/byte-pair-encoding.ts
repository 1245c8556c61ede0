/**
 * Byte-pair encoding of one word: repeatedly merge the adjacent pair of symbols that comes first in
 * the merge list, until no adjacent pair is in it. The word's last symbol carries the `</w>`
 * end-of-word marker, as CLIP's vocabulary expects.
 *
 * The textbook loop (transformers' CLIPTokenizer) rescans the word after every merge, which is
 * quadratic; a prompt can hold a single 10,000-character "word" of punctuation, so this keeps the
 * candidate pairs in a heap instead. It still merges what the loop merges: each round takes every
 * occurrence of the best pair, left to right, and only then looks at the pairs those merges made.
 */
export class BytePairEncoder {
  private readonly ranks: Map<string, number>;

  /** `merges` are "left right" lines, highest priority first (merges.txt without its header). */
  constructor(merges: readonly string[]) {
    this.ranks = new Map(merges.map((pair, rank) => [pair, rank]));
  }

  encode(byteSymbols: readonly string[]): string[] {
    if (byteSymbols.length === 0) return [];
    const symbols = [...byteSymbols];
    symbols[symbols.length - 1] += END_OF_WORD;
    if (symbols.length === 1) return symbols;

    // A doubly linked list over the symbols; a merge folds the right symbol into the left one.
    const next = symbols.map((_, i) => (i + 1 < symbols.length ? i + 1 : -1));
    const previous = symbols.map((_, i) => i - 1);
    const version = symbols.map(() => 0);
    const candidates = new PairHeap();
    const pairAt = (left: number): PairCandidate | undefined => {
      const right = left < 0 ? -1 : next[left];
      if (right < 0) return undefined;
      const rank = this.ranks.get(`${symbols[left]} ${symbols[right]}`);
      return rank === undefined ? undefined : { rank, left, right, leftVersion: version[left], rightVersion: version[right] };
    };
    for (let i = 0; i + 1 < symbols.length; i++) candidates.push(pairAt(i));

    while (candidates.size > 0) {
      const round = candidates.peek()!.rank;
      const made: Array<PairCandidate | undefined> = [];
      while (candidates.peek()?.rank === round) {
        const pair = candidates.pop()!;
        const { left, right } = pair;
        // Stale when either side has since been merged into something else.
        if (next[left] !== right || version[left] !== pair.leftVersion || version[right] !== pair.rightVersion) continue;
        symbols[left] += symbols[right];
        version[left]++;
        version[right] = -1;
        next[left] = next[right];
        if (next[right] >= 0) previous[next[right]] = left;
        made.push(pairAt(previous[left]), pairAt(left));
      }
      for (const pair of made) candidates.push(pair);
    }

    const merged: string[] = [];
    for (let i = 0; i >= 0; i = next[i]) merged.push(symbols[i]);
    return merged;
  }
}

export const END_OF_WORD = '</w>';

interface PairCandidate {
  rank: number;
  /** Index of the pair's left symbol; among equal ranks the leftmost merges first. */
  left: number;
  right: number;
  leftVersion: number;
  rightVersion: number;
}

/** A binary min-heap ordered by (rank, left). */
class PairHeap {
  private readonly items: PairCandidate[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): PairCandidate | undefined {
    return this.items[0];
  }

  push(item: PairCandidate | undefined): void {
    if (!item) return;
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!precedes(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): PairCandidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && precedes(items[left], items[smallest])) smallest = left;
        if (right < items.length && precedes(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}

function precedes(a: PairCandidate, b: PairCandidate): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.left < b.left);
}
