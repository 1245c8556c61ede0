import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BytePairEncoder } from '../../src/prompt/byte-pair-encoding.js';
import { ClipTokenizer, TokenizerFilesError } from '../../src/prompt/index.js';
import { TOKENIZER_DIRS } from './fixtures.js';

describe('ClipTokenizer on the real vocabularies', () => {
  it.each(Object.entries(TOKENIZER_DIRS))('%s encodes "a photo of a cat" as CLIP does', async (_, dir) => {
    const tokenizer = await ClipTokenizer.fromDirectory(dir);
    const ids = [tokenizer.bosTokenId, ...tokenizer.encode('a photo of a cat'), tokenizer.eosTokenId];
    expect(ids).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });

  it('reads the special tokens and the length from each folder', async () => {
    const [sd15, sdxl, sdxl2] = await Promise.all(Object.values(TOKENIZER_DIRS).map((dir) => ClipTokenizer.fromDirectory(dir)));
    expect([sd15.padTokenId, sdxl.padTokenId, sdxl2.padTokenId]).toEqual([49407, 49407, 0]);
    expect(sdxl2.tokenId('!')).toBe(0);
    for (const tokenizer of [sd15, sdxl, sdxl2]) {
      expect(tokenizer.bosTokenId).toBe(49406);
      expect(tokenizer.eosTokenId).toBe(49407);
      expect(tokenizer.modelMaxLength).toBe(77);
    }
  });

  // Ids from the textbook CLIP BPE loop over the same vocab.json and merges.txt.
  it.each<[string, number[]]>([
    ['masterpiece', [12066]],
    ['score_9, score_8_up, score_7_up', [4431, 318, 280, 267, 4431, 318, 279, 318, 705, 267, 4431, 318, 278, 318, 705]],
    ['blue_hair', [1746, 318, 2225]],
    ["it's, don't, they're, we've, I'm, you'll, he'd", [585, 568, 267, 847, 713, 267, 889, 982, 267, 649, 1200, 267, 328, 880, 267, 592, 1342, 267, 797, 1896]],
    ['1024x768 at 3.5 steps', [272, 271, 273, 275, 343, 278, 277, 279, 536, 274, 269, 276, 5408]],
    ['Hello, World!!!', [3306, 267, 1002, 995]],
    ['café crème, naïve', [15304, 1075, 12138, 614, 267, 1097, 35689, 563]],
    ['日本語', [39121, 44353, 34002, 508]],
    ['🐱 cat', [22979, 2368]],
    ['(((cat)))', [33287, 2368, 18305]],
    ['8k uhd, hdr', [279, 330, 84, 4414, 267, 28065]],
  ])('encodes %j', async (text, expected) => {
    const tokenizer = await ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15);
    expect(tokenizer.encode(text)).toEqual(expected);
  });

  it('cleans text the way CLIP does before splitting it', async () => {
    const tokenizer = await ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15);
    const same = (messy: string, clean: string) => expect(tokenizer.encode(messy)).toEqual(tokenizer.encode(clean));
    same('  A  Photo\tOF\n\na CAT ', 'a photo of a cat');
    same('the cat’s “toy”', 'the cat\'s "toy"');
    same('Ｈｅｌｌｏ　ｗｏｒｌｄ！', 'hello world!');
    same('ﬁne ﬂowers', 'fine flowers');
    same('salt &amp; pepper &#38; &#x26;', 'salt & pepper & &');
    same('cafe\u0301', 'café');
    same('zero\u0000width\ufeff', 'zerowidth');
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.encode(' \n\t ')).toEqual([]);
  });

  it('reads the special tokens written into a prompt as themselves', async () => {
    const tokenizer = await ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15);
    expect(tokenizer.encode('a<|endoftext|>cat <|startoftext|>')).toEqual([320, 49407, 2368, 49406]);
  });

  it('encodes a 10,000-character word without losing a character', async () => {
    const tokenizer = await ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15);
    const vocab: Record<string, number> = JSON.parse(await readFile(path.join(TOKENIZER_DIRS.sd15, 'vocab.json'), 'utf8'));
    const tokenOf = new Map(Object.entries(vocab).map(([token, id]) => [id, token]));
    const word = '!?'.repeat(2_500) + '!'.repeat(5_000);
    const ids = tokenizer.encode(word);
    expect(ids.length).toBeLessThan(word.length / 2);
    expect(ids.map((id) => tokenOf.get(id)).join('')).toBe(`${word}</w>`);
  });

  it('loads each folder once', async () => {
    const first = ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15);
    const again = ClipTokenizer.fromDirectory(`${TOKENIZER_DIRS.sd15}/`);
    expect(await again).toBe(await first);
    expect(await ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sdxl)).not.toBe(await first);
  });
});

describe('BytePairEncoder', () => {
  /** The textbook loop: merge every occurrence of the best-ranked pair, left to right, repeat. */
  function referenceMerge(ranks: Map<string, number>, symbols: string[]): string[] {
    let word = [...symbols];
    word[word.length - 1] += '</w>';
    for (;;) {
      let best: [string, string] | undefined;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && (!best || rank < ranks.get(best.join(' '))!)) best = [word[i], word[i + 1]];
      }
      if (!best) return word;
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === best[0] && word[i + 1] === best[1]) merged.push(word[i] + word[++i]);
        else merged.push(word[i]);
      }
      word = merged;
    }
  }

  let merges: string[];
  beforeAll(async () => {
    merges = (await readFile(path.join(TOKENIZER_DIRS.sd15, 'merges.txt'), 'utf8')).split('\n').slice(1).filter(Boolean);
  });

  it('merges exactly what the textbook loop merges', () => {
    const encoder = new BytePairEncoder(merges);
    const ranks = new Map(merges.map((pair, rank) => [pair, rank]));
    const word = fc.array(fc.constantFrom('a', 'n', 'e', 'l', 'o', 's', 't', '!', '.', 'x', 'h'), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(word, (symbols) => {
        expect(encoder.encode(symbols)).toEqual(referenceMerge(ranks, symbols));
      }),
      { numRuns: 500 },
    );
  });

  it('merges every occurrence of a pair before the pairs those merges made', () => {
    // "abc a" outranks "a bc": merging one "a bc" first must not steal the "a" of the next one.
    const encoder = new BytePairEncoder(['abc a', 'a bc']);
    expect(encoder.encode(['a', 'bc', 'a', 'bc', 'x'])).toEqual(['abc', 'abc', 'x</w>']);
    expect(referenceMerge(new Map([['abc a', 0], ['a bc', 1]]), ['a', 'bc', 'a', 'bc', 'x'])).toEqual(['abc', 'abc', 'x</w>']);
  });

  it('merges nothing in an empty word and marks a single symbol as a word end', () => {
    const encoder = new BytePairEncoder(merges);
    expect(encoder.encode([])).toEqual([]);
    expect(encoder.encode(['a'])).toEqual(['a</w>']);
  });
});

describe('ClipTokenizer folders', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'easel-tokenizer-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function writeFolder(name: string, files: Record<string, string>): Promise<string> {
    const dir = path.join(root, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
    return dir;
  }

  const tinyVocab = { '<|startoftext|>': 0, '<|endoftext|>': 1, c: 2, a: 3, 't</w>': 4, ca: 5, 'cat</w>': 6, '<pad>': 7 };

  it('reads a small generated vocabulary, with unknown pieces as the unknown token', async () => {
    const dir = await writeFolder('tiny', {
      'vocab.json': JSON.stringify(tinyVocab),
      'merges.txt': '#version: 0.2\nc a\nca t</w>\n',
      'tokenizer_config.json': JSON.stringify({ pad_token: { content: '<pad>' }, model_max_length: 1e30 }),
    });
    const tokenizer = await ClipTokenizer.fromDirectory(dir);
    expect(tokenizer.encode('cat')).toEqual([6]);
    expect(tokenizer.encode('cab')).toEqual([5, 1]);
    expect([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.unkTokenId]).toEqual([0, 1, 7, 1]);
    expect(tokenizer.modelMaxLength).toBe(77);
  });

  it('names the missing or broken file', async () => {
    const noMerges = await writeFolder('no-merges', { 'vocab.json': JSON.stringify(tinyVocab) });
    await expect(ClipTokenizer.fromDirectory(noMerges)).rejects.toThrow(/merges\.txt/);
    await expect(ClipTokenizer.fromDirectory(noMerges)).rejects.toBeInstanceOf(TokenizerFilesError);

    const badJson = await writeFolder('bad-json', { 'vocab.json': '{"a": 1,', 'merges.txt': '' });
    await expect(ClipTokenizer.fromDirectory(badJson)).rejects.toThrow(/vocab\.json is not a JSON object/);

    const noEos = await writeFolder('no-eos', { 'vocab.json': JSON.stringify({ '<|startoftext|>': 0 }), 'merges.txt': '' });
    await expect(ClipTokenizer.fromDirectory(noEos)).rejects.toMatchObject({
      code: 'TOKENIZER_FILES_INVALID',
      message: expect.stringContaining('end-of-text token "<|endoftext|>"'),
    });
  });

  it('reads a folder again after a failed load', async () => {
    const dir = await writeFolder('late', { 'vocab.json': JSON.stringify(tinyVocab) });
    await expect(ClipTokenizer.fromDirectory(dir)).rejects.toThrow(TokenizerFilesError);
    await writeFile(path.join(dir, 'merges.txt'), '#version: 0.2\nc a\n');
    expect((await ClipTokenizer.fromDirectory(dir)).encode('cab')).toEqual([5, 1]);
  });
});
