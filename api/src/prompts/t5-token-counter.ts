import path from 'node:path';
import type { Logger } from 'pino';
import { plainPromptText, T5Tokenizer } from '@easel/schema';
import type { TokenCountSource } from './token-counter.js';

/**
 * Counts what Flux's T5 encoder reads of a prompt: the plain text (weights stripped, as the
 * pipeline does) in SentencePiece tokens plus the end-of-sequence token, with the model's own
 * `tokenizer_2/` when installed, else an estimate.
 */
export interface T5TokenCounter {
  source: TokenCountSource;
  /** Tokens the prompt needs, `</s>` included. */
  count(prompt: string): number;
}

/** T5 sequence lengths of FLUX.1: [dev] (guidance-distilled) reads 512 tokens, [schnell] 256, as diffusers' FluxPipeline uses them. */
export function t5TokenLimit(model: { defaults: { guidance?: number } }): number {
  return model.defaults.guidance === undefined ? 256 : 512;
}

/**
 * SentencePiece's T5 vocabulary holds common English words whole and splits rarer ones into about
 * one piece per four letters; punctuation is a piece of its own.
 */
export const ESTIMATED_T5_COUNTER: T5TokenCounter = {
  source: 'ESTIMATE',
  count(prompt) {
    let tokens = 1;
    for (const piece of plainPromptText(prompt).match(/\p{L}+|\p{N}+|[^\s\p{L}\p{N}]/gu) ?? []) {
      tokens += /^\p{L}/u.test(piece) ? Math.max(1, Math.ceil(piece.length / 6)) : /^\p{N}/u.test(piece) ? piece.length : 1;
    }
    return tokens;
  },
};

export async function t5TokenCounterFor(modelDir: string, installed: boolean, logger: Logger): Promise<T5TokenCounter> {
  if (!installed) return ESTIMATED_T5_COUNTER;
  const folder = path.join(modelDir, 'tokenizer_2');
  try {
    const tokenizer = await T5Tokenizer.fromDirectory(folder);
    return { source: 'TOKENIZER', count: (prompt) => tokenizer.encode(plainPromptText(prompt)).length + 1 };
  } catch (error) {
    logger.warn({ err: error, folder }, 'cannot read the model T5 tokenizer; estimating T5 token counts');
    return ESTIMATED_T5_COUNTER;
  }
}
