import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainPromptText, T5Tokenizer, TokenizerFilesError } from '@easel/schema';
import { t5TokenizerJson } from '../../src/tiny-models/flux-t5-tokenizer.js';

/**
 * Known T5 ids, from the published examples of transformers' T5 documentation (t5-small / t5-base,
 * whose SentencePiece vocabulary Flux's tokenizer_2 shares):
 *
 *   "Studies have been shown that owning a dog is good for you"
 *     → 6536, 43, 118, 2008, 24, 293, 53, 3, 9, 1782, 19, 207, 21, 25, 1
 *   "The <extra_id_0> walks in <extra_id_1> park" → 37, 32099, 10681, 16, 32098, 2447, 1
 *   "<extra_id_0> cute dog <extra_id_1> the <extra_id_2>" → 32099, 5295, 1782, 32098, 8, 32097, 1
 *
 * The real 32,100-piece vocabulary is not shipped here, so this tokenizer.json holds those pieces at
 * their real ids (the rest are placeholders), with scores falling with the id as SentencePiece
 * orders its pieces, in the file layout T5TokenizerFast saves (the tiny model's writer builds it).
 */
const PIECES: Record<number, string> = {
  3: '▁', 8: '▁the', 9: 'a', 16: '▁in', 19: '▁is', 21: '▁for', 24: '▁that', 25: '▁you', 37: '▁The', 43: '▁have', 53: 'ing',
  118: '▁been', 207: '▁good', 293: '▁own', 1782: '▁dog', 2008: '▁shown', 2447: '▁park', 5295: '▁cute', 6536: '▁Studies', 10681: '▁walks',
};
const EXTRA_IDS = 100;
const VOCAB_SIZE = 32_000;

function tokenizerJson() {
  const vocab: [string, number][] = Array.from({ length: VOCAB_SIZE }, (_, id) => [PIECES[id] ?? `<placeholder_${id}>`, -Math.log(id + 2)]);
  const special = ['<pad>', '</s>', '<unk>'].map((content, id) => ({ id, content }));
  special.forEach(({ id, content }) => (vocab[id] = [content, 0]));
  for (let i = EXTRA_IDS - 1; i >= 0; i--) {
    special.push({ id: vocab.length, content: `<extra_id_${i}>` });
    vocab.push([`<extra_id_${i}>`, 0]);
  }
  return t5TokenizerJson(vocab, special);
}

let dir: string;
let tokenizer: T5Tokenizer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'easel-t5-'));
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 512 }));
  tokenizer = await T5Tokenizer.fromDirectory(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('T5 tokenizer (tokenizer.json via @huggingface/tokenizers)', () => {
  it('gives the ids of the T5 documentation examples, </s> at the end', () => {
    const withEos = (text: string) => [...tokenizer.encode(text), tokenizer.eosTokenId];
    expect(withEos('Studies have been shown that owning a dog is good for you')).toEqual([6536, 43, 118, 2008, 24, 293, 53, 3, 9, 1782, 19, 207, 21, 25, 1]);
    expect(withEos('The <extra_id_0> walks in <extra_id_1> park')).toEqual([37, 32099, 10681, 16, 32098, 2447, 1]);
    expect(withEos('<extra_id_0> cute dog <extra_id_1> the <extra_id_2>')).toEqual([32099, 5295, 1782, 32098, 8, 32097, 1]);
  });

  it('pads to the encoder length with <pad> (0) after </s> (1), as padding="max_length" does', () => {
    const { ids, used } = tokenizer.encodePadded('a cute dog in the park', 12);
    expect([...ids]).toEqual([3, 9, 5295, 1782, 16, 8, 2447, 1, 0, 0, 0, 0]);
    expect(used).toBe(8);
  });

  it('cuts a long prompt to leave room for </s>, and says how many tokens it needed', () => {
    const { ids, used } = tokenizer.encodePadded('the dog is good for you the dog is good for you', 6);
    expect([...ids]).toEqual([8, 1782, 19, 207, 21, 1]);
    expect(used).toBe(13);
  });

  it('maps characters outside the vocabulary to <unk> (2)', () => {
    expect(tokenizer.encode('the 犬')).toEqual([8, 3, 2]);
  });

  it('refuses a tokenizer.json that is not a Unigram model', async () => {
    const bpe = await mkdtemp(path.join(os.tmpdir(), 'easel-t5-bpe-'));
    await writeFile(path.join(bpe, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
    await expect(T5Tokenizer.fromDirectory(bpe)).rejects.toThrow(TokenizerFilesError);
    await expect(T5Tokenizer.fromDirectory(bpe)).rejects.toThrow(/not a SentencePiece Unigram tokenizer/);
    await rm(bpe, { recursive: true, force: true });
  });
});

describe('plainPromptText: what Flux reads of A1111 syntax', () => {
  it('drops weights, brackets and BREAK, keeping the words and escaped brackets', () => {
    expect(plainPromptText('a (red:1.3) hat, [blurry] ((sharp)) BREAK on a \\(wooden\\) table')).toBe('a red hat, blurry sharp on a (wooden) table');
  });
});
