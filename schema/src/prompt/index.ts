/** The prompt language, shared by the API (analysis, token counts) and the GPU runtime (conditioning). */
export { BREAK_TEXT, BREAK_WEIGHT, isBreak, parseAttention, serializeAttention, type PromptSegment } from './attention.js';
export { ClipTokenizer, TokenizerFilesError, type ClipTokenizerFiles } from './clip-tokenizer.js';
export {
  DEFAULT_COMMA_BACKTRACK,
  chunkPrompt,
  chunkSegments,
  chunkToEncoderInput,
  countPromptTokens,
  type ChunkOptions,
  type ChunkTokenizer,
  type ChunkedPrompt,
  type EncoderInput,
  type PromptTokenCount,
  type WeightedToken,
} from './chunks.js';
