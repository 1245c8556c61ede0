import { isBreak, parseAttention, type PromptSegment } from './attention.js';
import type { ClipTokenizer } from './clip-tokenizer.js';

/**
 * Splits a weighted prompt into the chunks the text encoder sees, the way A1111's
 * `tokenize_line` does: CLIP reads 77 tokens at a time (BOS, 75 prompt tokens, EOS), so a longer
 * prompt becomes several chunks that are encoded separately and concatenated.
 */

export interface WeightedToken {
  id: number;
  /** The weight of the prompt segment the token came from. */
  weight: number;
}

export interface ChunkedPrompt {
  /** Each holds at most `modelMaxLength - 2` (75) tokens; an empty prompt gives one empty chunk. */
  chunks: WeightedToken[][];
  /**
   * The count A1111's UI shows as "23/75": every chunk but the last counts as full (75), since a
   * BREAK or a comma backtrack pads it, and the last counts its tokens.
   */
  tokenCount: number;
}

export interface ChunkOptions {
  /**
   * When a chunk fills up, move the words after its last comma to the next chunk if that comma is
   * within this many tokens of the end, so a tag is not cut in half (A1111's
   * "comma_padding_backtrack", 20 by default). 0 turns it off.
   */
  commaBacktrack?: number;
}

/** The subset of ClipTokenizer that chunking needs. */
export type ChunkTokenizer = Pick<ClipTokenizer, 'encode' | 'tokenId' | 'modelMaxLength'>;

export const DEFAULT_COMMA_BACKTRACK = 20;

export function chunkPrompt(prompt: string, tokenizer: ChunkTokenizer, options?: ChunkOptions): ChunkedPrompt {
  return chunkSegments(parseAttention(prompt), tokenizer, options);
}

export function chunkSegments(
  segments: readonly PromptSegment[],
  tokenizer: ChunkTokenizer,
  { commaBacktrack = DEFAULT_COMMA_BACKTRACK }: ChunkOptions = {},
): ChunkedPrompt {
  const chunkLength = tokenizer.modelMaxLength - 2;
  const commaId = tokenizer.tokenId(',</w>');
  const chunks: WeightedToken[][] = [];
  let chunk: WeightedToken[] = [];
  let lastComma = -1;
  let tokenCount = 0;

  const closeChunk = (isLast: boolean) => {
    tokenCount += isLast ? chunk.length : chunkLength;
    chunks.push(chunk);
    chunk = [];
    lastComma = -1;
  };

  for (const segment of segments) {
    if (isBreak(segment)) {
      closeChunk(false);
      continue;
    }
    // Each segment is tokenized on its own, as A1111 does: "(cat)s" is "cat" + "s", not "cats".
    for (const id of tokenizer.encode(segment.text)) {
      if (id === commaId) {
        lastComma = chunk.length;
      } else if (commaBacktrack > 0 && chunk.length === chunkLength && lastComma !== -1 && chunk.length - lastComma <= commaBacktrack) {
        const afterComma = chunk.splice(lastComma + 1);
        closeChunk(false);
        chunk = afterComma;
      }
      if (chunk.length === chunkLength) closeChunk(false);
      chunk.push({ id, weight: segment.weight });
    }
  }
  if (chunk.length > 0 || chunks.length === 0) closeChunk(true);

  return { chunks, tokenCount };
}

export interface EncoderInput {
  /** BOS, the chunk's tokens, EOS, then padding: `modelMaxLength` (77) ids. */
  inputIds: number[];
  /** One per id; BOS, EOS and padding weigh 1. */
  weights: number[];
}

/**
 * One chunk as the text encoder's input. Padding follows the tokenizer: SD 1.x pads with EOS,
 * SDXL's second tokenizer with `!` (id 0), always after one EOS, as the encoders were trained.
 */
export function chunkToEncoderInput(
  chunk: readonly WeightedToken[],
  tokenizer: Pick<ClipTokenizer, 'bosTokenId' | 'eosTokenId' | 'padTokenId' | 'modelMaxLength'>,
): EncoderInput {
  const length = tokenizer.modelMaxLength;
  if (chunk.length > length - 2) {
    throw new RangeError(`A chunk holds at most ${length - 2} tokens, got ${chunk.length}`);
  }
  const inputIds = [tokenizer.bosTokenId, ...chunk.map((token) => token.id), tokenizer.eosTokenId];
  const weights = [1, ...chunk.map((token) => token.weight), 1];
  while (inputIds.length < length) {
    inputIds.push(tokenizer.padTokenId);
    weights.push(1);
  }
  return { inputIds, weights };
}

export interface PromptTokenCount {
  /** Prompt tokens as A1111 counts them (see ChunkedPrompt.tokenCount). */
  tokenCount: number;
  chunkCount: number;
  /** The "75" of "23/75": the next multiple of 75 at or above the count. */
  tokenLimit: number;
}

export function countPromptTokens(prompt: string, tokenizer: ChunkTokenizer, options?: ChunkOptions): PromptTokenCount {
  const { chunks, tokenCount } = chunkPrompt(prompt, tokenizer, options);
  const chunkLength = tokenizer.modelMaxLength - 2;
  return {
    tokenCount,
    chunkCount: chunks.length,
    tokenLimit: Math.ceil(Math.max(tokenCount, 1) / chunkLength) * chunkLength,
  };
}
