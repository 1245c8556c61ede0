/**
 * A small T5 tokenizer in the real `tokenizer.json` format (SentencePiece Unigram, as
 * transformers' T5TokenizerFast saves it): `<pad>` 0, `</s>` 1, `<unk>` 2 as in T5, then `▁`,
 * single characters with and without the word-start mark, then whole words. Whole words score
 * higher than their letters, so Viterbi picks a known word as one piece and spells the rest.
 * The real file's normalizer is a precompiled NFKC charsmap; this one uses NFKC, which that
 * charsmap encodes, so the tiny file needs no binary blob.
 */

const WORDS = `
a an the of and with in on at by from to for is girl boy man woman person people child portrait
photo photograph painting drawing illustration render art style anime realistic cinematic detailed
beautiful cute red green blue yellow black white golden sunset sky cloud forest tree mountain
river lake sea city street house castle garden flower cat dog bird horse dragon fox sitting
standing looking light dark soft window night day sun moon rain snow fire water
`;

const CHARACTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?:;\'"()-_/&';

const SPECIAL = ['<pad>', '</s>', '<unk>'];

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** The vocabulary with Unigram log-probabilities, in id order. */
export function t5Vocabulary(): [string, number][] {
  const vocab: [string, number][] = SPECIAL.map((token) => [token, 0]);
  vocab.push(['▁', -3]);
  for (const c of CHARACTERS) vocab.push([`▁${c}`, -9], [c, -10]);
  const words = [...new Set(WORDS.trim().split(/\s+/))].filter((word) => word.length > 1);
  for (const word of words) vocab.push([`▁${word}`, -5 - word.length / 100]);
  return vocab;
}

/**
 * transformers' T5TokenizerFast file around a Unigram vocabulary: the special tokens as added
 * tokens, NFKC and space folding, whitespace split and Metaspace, `</s>` appended.
 */
export function t5TokenizerJson(vocab: [string, number][], specialTokens: { id: number; content: string }[]) {
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  const eos = { SpecialToken: { id: '</s>', type_id: 0 } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map(({ id, content }) => addedToken(id, content)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, eos],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, eos, { Sequence: { id: 'B', type_id: 0 } }, eos],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
}

export function t5TokenizerFiles(maxLength: number): Record<string, string> {
  const tokenizer = t5TokenizerJson(t5Vocabulary(), SPECIAL.map((content, id) => ({ id, content })));
  const config = {
    tokenizer_class: 'T5Tokenizer',
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    model_max_length: maxLength,
    extra_ids: 0,
    legacy: true,
  };
  const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  return {
    'tokenizer.json': json(tokenizer),
    'tokenizer_config.json': json(config),
    'special_tokens_map.json': json({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' }),
  };
}
