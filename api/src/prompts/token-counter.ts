import path from 'node:path';
import type { Logger } from 'pino';
import { ClipTokenizer, countPromptTokens, type ChunkTokenizer, type PromptTokenCount } from '@easel/schema';
import { cleanText } from '@easel/schema';

/**
 * Counts prompt tokens the way A1111's "23/75" does: with the model's own CLIP tokenizer when its
 * files are installed, else with an estimate. The real vocabularies are not shipped (they come
 * with each model), and a made-up one would count worse than the estimate, so the analysis says
 * which it used.
 */
export type TokenCountSource = 'TOKENIZER' | 'ESTIMATE';

export interface TokenCounter {
  source: TokenCountSource;
  count(prompt: string): PromptTokenCount;
}

export function tokenizerCounter(tokenizer: ChunkTokenizer): TokenCounter {
  return { source: 'TOKENIZER', count: (prompt) => countPromptTokens(prompt, tokenizer) };
}

/**
 * CLIP's vocabulary holds the words prompts use whole, up to eight letters and often beyond;
 * longer or rarer ones split into pieces, about one more per four letters. Digits are a token
 * each, a run of symbols about one per character. Measured against the real vocabulary on tags
 * and sentences; a test keeps typical prompts within 15% of the true count (the 75-token chunk
 * boundary, moved by A1111's comma backtrack, makes most of the difference on long prompts).
 */
const ESTIMATING_TOKENIZER: ChunkTokenizer = {
  modelMaxLength: 77,
  tokenId: (token) => (token === ',</w>' ? COMMA : undefined),
  encode(text) {
    const ids: number[] = [];
    let expected = 0; // a running total, so that fractions add up over the prompt
    for (const piece of cleanText(text).match(PIECES) ?? []) {
      if (piece === ',') {
        ids.push(COMMA);
        expected += 1;
        continue;
      }
      const before = Math.round(expected);
      expected += expectedTokens(piece);
      for (let i = Math.round(expected) - before; i > 0; i--) ids.push(WORD);
    }
    return ids;
  },
};

const COMMA = 1;
const WORD = 0;
/** CLIP's own split, minus the special tokens: letter runs, single digits, symbol runs. */
const PIECES = /[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;

function expectedTokens(piece: string): number {
  if (/^\p{N}$/u.test(piece)) return 1;
  if (/^\p{L}/u.test(piece)) return piece.length <= 8 ? 1 : 1 + (piece.length - 8) * 0.25;
  return Math.max(1, piece.length * 0.8);
}

export const ESTIMATED_COUNTER: TokenCounter = {
  source: 'ESTIMATE',
  count: (prompt) => countPromptTokens(prompt, ESTIMATING_TOKENIZER),
};

/**
 * The counter for a model: its `tokenizer/` folder under MODELS_DIR when installed (SDXL's second
 * tokenizer shares the vocabulary; Flux's T5 limit is not the 75 people check), else the estimate.
 */
export async function tokenCounterFor(modelDir: string, installed: boolean, logger: Logger): Promise<TokenCounter> {
  if (!installed) return ESTIMATED_COUNTER;
  const folder = path.join(modelDir, 'tokenizer');
  try {
    return tokenizerCounter(await ClipTokenizer.fromDirectory(folder));
  } catch (error) {
    logger.warn({ err: error, folder }, 'cannot read the model tokenizer; estimating token counts');
    return ESTIMATED_COUNTER;
  }
}
