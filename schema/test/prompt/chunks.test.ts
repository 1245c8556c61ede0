import { beforeAll, describe, expect, it } from 'vitest';
import {
  ClipTokenizer,
  chunkPrompt,
  chunkSegments,
  chunkToEncoderInput,
  countPromptTokens,
  type WeightedToken,
} from '../../src/prompt/index.js';
import { TOKENIZER_DIRS } from './fixtures.js';

let sd15: ClipTokenizer;
let sdxl2: ClipTokenizer;
let CAT: number;
let DOG: number;
let COMMA: number;

beforeAll(async () => {
  [sd15, sdxl2] = await Promise.all([ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sd15), ClipTokenizer.fromDirectory(TOKENIZER_DIRS.sdxl2)]);
  [CAT, DOG, COMMA] = [sd15.tokenId('cat</w>')!, sd15.tokenId('dog</w>')!, sd15.tokenId(',</w>')!];
});

const words = (word: string, count: number) => Array(count).fill(word).join(' ');
const ids = (chunk: WeightedToken[]) => chunk.map((token) => token.id);
const plain = (id: number, count: number) => Array<WeightedToken>(count).fill({ id, weight: 1 });

describe('chunkPrompt', () => {
  it('keeps a short prompt in one chunk', () => {
    expect(chunkPrompt('a photo of a cat', sd15)).toEqual({
      chunks: [[320, 1125, 539, 320, 2368].map((id) => ({ id, weight: 1 }))],
      tokenCount: 5,
    });
  });

  it('gives an empty prompt one empty chunk', () => {
    expect(chunkPrompt('', sd15)).toEqual({ chunks: [[]], tokenCount: 0 });
    expect(chunkPrompt('((  ))', sd15)).toEqual({ chunks: [[]], tokenCount: 0 });
  });

  it('carries each segment weight onto its tokens', () => {
    expect(chunkPrompt('(masterpiece:1.2), [cat] (dog)', sd15).chunks).toEqual([
      [
        { id: 12066, weight: 1.2 },
        { id: COMMA, weight: 1 },
        { id: CAT, weight: 1 / 1.1 },
        { id: DOG, weight: 1.1 },
      ],
    ]);
  });

  it('tokenizes each segment on its own, as A1111 does', () => {
    const [chunk] = chunkPrompt('(cat)s', sd15).chunks;
    expect(ids(chunk)).toEqual([...sd15.encode('cat'), ...sd15.encode('s')]);
    expect(ids(chunk)).not.toEqual(sd15.encode('cats'));
  });

  it('splits a prompt longer than 75 tokens into chunks of 75', () => {
    expect(chunkPrompt(words('cat', 100), sd15)).toEqual({ chunks: [plain(CAT, 75), plain(CAT, 25)], tokenCount: 100 });
    expect(chunkPrompt(words('cat', 150), sd15).chunks.map((chunk) => chunk.length)).toEqual([75, 75]);
  });

  it('moves the words after a comma near the end of a full chunk to the next chunk', () => {
    // 60 cats, a comma at index 60, then 20 dogs: the chunk fills after 14 dogs, 15 tokens after the comma.
    const prompt = `${words('cat', 60)}, ${words('dog', 20)}`;
    expect(chunkPrompt(prompt, sd15)).toEqual({ chunks: [[...plain(CAT, 60), { id: COMMA, weight: 1 }], plain(DOG, 20)], tokenCount: 95 });
    expect(chunkPrompt(prompt, sd15, { commaBacktrack: 0 }).chunks.map(ids)).toEqual([
      [...Array(60).fill(CAT), COMMA, ...Array(14).fill(DOG)],
      Array(6).fill(DOG),
    ]);
    expect(chunkPrompt(prompt, sd15, { commaBacktrack: 14 }).chunks.map((chunk) => chunk.length)).toEqual([75, 6]);
  });

  it('looks back at most 20 tokens for the comma', () => {
    const lengths = (cats: number) => chunkPrompt(`${words('cat', cats)}, ${words('dog', 80 - cats)}`, sd15).chunks.map((chunk) => chunk.length);
    expect(lengths(55)).toEqual([56, 25]); // the comma is 20 tokens from the end of the chunk
    expect(lengths(54)).toEqual([75, 6]); // 21 tokens
  });

  it('keeps the weights of the tokens it moves', () => {
    const [, second] = chunkPrompt(`${words('cat', 70)}, (dog dog dog dog dog dog:1.3)`, sd15).chunks;
    expect(second).toEqual(Array(6).fill({ id: DOG, weight: 1.3 }));
  });

  it('ends a chunk at BREAK', () => {
    expect(chunkPrompt('a cat BREAK a (dog)', sd15)).toEqual({
      chunks: [
        [{ id: 320, weight: 1 }, { id: CAT, weight: 1 }],
        [{ id: 320, weight: 1 }, { id: DOG, weight: 1.1 }],
      ],
      tokenCount: 75 + 2,
    });
    // The comma before a BREAK is in an earlier chunk: it must not pull words back out of the next.
    expect(chunkPrompt(`${words('cat', 60)}, BREAK ${words('dog', 80)}`, sd15).chunks.map((chunk) => chunk.length)).toEqual([61, 75, 5]);
  });

  it('counts a trailing or lone BREAK the way A1111 does', () => {
    expect(chunkPrompt('a cat BREAK', sd15)).toEqual({ chunks: [[{ id: 320, weight: 1 }, { id: CAT, weight: 1 }]], tokenCount: 75 });
    expect(chunkPrompt('BREAK', sd15)).toEqual({ chunks: [[]], tokenCount: 75 });
  });

  it('chunks segments that were parsed elsewhere', () => {
    expect(chunkSegments([{ text: 'cat', weight: 0.8 }], sd15).chunks).toEqual([[{ id: CAT, weight: 0.8 }]]);
  });
});

describe('chunkToEncoderInput', () => {
  it('pads SD 1.5 chunks with end-of-text tokens', () => {
    const { inputIds, weights } = chunkToEncoderInput(chunkPrompt('a (cat)', sd15).chunks[0], sd15);
    expect(inputIds).toEqual([49406, 320, CAT, ...Array(74).fill(49407)]);
    expect(weights).toEqual([1, 1, 1.1, ...Array(74).fill(1)]);
  });

  it("pads SDXL's second tokenizer with ! after one end-of-text token", () => {
    const { inputIds, weights } = chunkToEncoderInput(chunkPrompt('a [cat]', sdxl2).chunks[0], sdxl2);
    expect(inputIds).toEqual([49406, 320, CAT, 49407, ...Array(73).fill(0)]);
    expect(weights).toEqual([1, 1, 1 / 1.1, ...Array(74).fill(1)]);
  });

  it('fits a full chunk exactly and an empty one as BOS, EOS and padding', () => {
    const [full] = chunkPrompt(words('cat', 75), sdxl2).chunks;
    expect(chunkToEncoderInput(full, sdxl2).inputIds).toEqual([49406, ...Array(75).fill(CAT), 49407]);
    expect(chunkToEncoderInput([], sdxl2).inputIds).toEqual([49406, 49407, ...Array(75).fill(0)]);
  });

  it('refuses a chunk longer than the encoder takes', () => {
    expect(() => chunkToEncoderInput(plain(CAT, 76), sd15)).toThrow(/at most 75 tokens, got 76/);
  });
});

describe('countPromptTokens', () => {
  it('reports the count, the chunks and the "/75" limit', () => {
    expect(countPromptTokens('a photo of a cat', sd15)).toEqual({ tokenCount: 5, chunkCount: 1, tokenLimit: 75 });
    expect(countPromptTokens('', sd15)).toEqual({ tokenCount: 0, chunkCount: 1, tokenLimit: 75 });
    expect(countPromptTokens(words('cat', 75), sd15)).toEqual({ tokenCount: 75, chunkCount: 1, tokenLimit: 75 });
    expect(countPromptTokens(words('cat', 76), sd15)).toEqual({ tokenCount: 76, chunkCount: 2, tokenLimit: 150 });
    expect(countPromptTokens('a cat BREAK a dog', sd15)).toEqual({ tokenCount: 77, chunkCount: 2, tokenLimit: 150 });
  });
});
