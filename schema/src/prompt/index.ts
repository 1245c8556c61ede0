/** The prompt language, shared by the API (analysis, linting, token counts) and the GPU runtime (conditioning). */
export { isBreak, parseAttention, serializeAttention, type PromptSegment } from './attention.js';
export {
  BREAK_TEXT,
  BREAK_WEIGHT,
  isBreakWordAt,
  scanPrompt,
  type BracketPair,
  type ScannedPrompt,
  type SyntaxProblem,
  type TextRun,
} from './scan.js';
export { cleanText } from './text-cleaning.js';
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
