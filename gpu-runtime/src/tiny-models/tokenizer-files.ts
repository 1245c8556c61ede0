/**
 * A small CLIP tokenizer vocabulary in the files' real format, so the real tokenizer code reads it
 * without special cases: the 256 byte characters, the same with "</w>", BPE merges learnt from a
 * built-in word list, then <|startoftext|> and <|endoftext|> as the two last ids (as in CLIP,
 * where they are 49406 and 49407).
 */

const WORDS = `
a an the of and with in on at by from to for is girl boy man woman person people child portrait
photo photograph painting drawing illustration sketch render art artwork style anime realistic
cinematic detailed highly intricate masterpiece best quality high low worst bad ugly blurry
deformed extra fingers hands face eyes hair long short blue red green yellow black white pink
purple orange golden silver dark light bright soft sunset sunrise night day sky cloud clouds
sun moon star stars forest tree trees mountain mountains river lake sea ocean beach city street
house castle garden flower flowers rose field snow rain fire water cat dog bird horse dragon fox
wolf car ship dress shirt hat smile smiling standing sitting looking viewer background simple
outdoors indoors close up full body upper lighting volumetric studio bokeh depth sharp focus
lens wide angle shot 8k 4k hdr uhd trending artstation digital oil watercolor concept fantasy
science fiction futuristic cyberpunk steampunk medieval ancient old young beautiful cute
elegant epic dramatic moody vibrant colorful pastel muted score up
`;

const MAX_MERGES = 600;

/** CLIP's byte-to-unicode table: printable bytes stand for themselves, the rest move to 256+. */
export function byteCharacters(): string[] {
  const printable: number[] = [];
  for (const [from, to] of [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ]) {
    for (let b = from; b <= to; b++) printable.push(b);
  }
  const chars = printable.map((b) => String.fromCharCode(b));
  let shifted = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) chars.push(String.fromCharCode(256 + shifted++));
  return chars;
}

/**
 * Byte-pair encoding training on the word list: repeatedly merge the most frequent adjacent
 * pair (ties broken alphabetically, so the result is the same everywhere).
 */
function learnMerges(words: string[]): string[] {
  const pieces = words.map((word) => [...word.slice(0, -1), `${word.slice(-1)}</w>`]);
  const merges: string[] = [];
  while (merges.length < MAX_MERGES) {
    const counts = new Map<string, number>();
    for (const word of pieces) {
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]} ${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    if (counts.size === 0) break;
    const [best] = [...counts].reduce((a, b) => (b[1] > a[1] || (b[1] === a[1] && b[0] < a[0]) ? b : a));
    merges.push(best);
    const [left, right] = best.split(' ');
    for (const word of pieces) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
      }
    }
  }
  return merges;
}

export interface TokenizerVocabulary {
  vocab: Record<string, number>;
  merges: string[];
  size: number;
}

export function buildVocabulary(): TokenizerVocabulary {
  const words = [...new Set(WORDS.split(/\s+/).filter(Boolean))].sort();
  const merges = learnMerges(words);
  const base = byteCharacters();
  const tokens = [...base, ...base.map((c) => `${c}</w>`), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'];
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    if (token in vocab) throw new Error(`duplicate token ${token}`);
    vocab[token] = id;
  });
  return { vocab, merges, size: tokens.length };
}

const addedToken = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });

/** The four files of a Hugging Face CLIPTokenizer folder. `padToken` is "!" for SDXL's tokenizer_2. */
export function tokenizerFiles(vocabulary: TokenizerVocabulary, padToken: string): Record<string, string> {
  const specials = {
    bos_token: addedToken('<|startoftext|>'),
    eos_token: addedToken('<|endoftext|>'),
    pad_token: padToken,
    unk_token: addedToken('<|endoftext|>'),
  };
  const config = {
    add_prefix_space: false,
    bos_token: { __type: 'AddedToken', ...specials.bos_token },
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: { __type: 'AddedToken', ...specials.eos_token },
    errors: 'replace',
    model_max_length: 77,
    pad_token: padToken,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: { __type: 'AddedToken', ...specials.unk_token },
  };
  return {
    'vocab.json': JSON.stringify(vocabulary.vocab),
    'merges.txt': ['#version: 0.2', ...vocabulary.merges].join('\n') + '\n',
    'special_tokens_map.json': JSON.stringify(specials, null, 2),
    'tokenizer_config.json': JSON.stringify(config, null, 2),
  };
}
