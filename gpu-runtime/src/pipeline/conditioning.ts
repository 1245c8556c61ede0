/**
 * Text conditioning, A1111-style: the prompt's AND parts and the negative prompt, as they stand at
 * one step, -> the UNet's `encoder_hidden_states` (and, for SDXL, `text_embeds` and `time_ids`).
 *
 *  1. Parse the attention syntax and split into 75-token chunks (schema/prompt), per tokenizer.
 *  2. Encode every chunk (BOS, 75 tokens, EOS, padding) of every text in one batched encoder run.
 *  3. Weight each token's embedding and restore the chunk's original mean.
 *  4. Concatenate each text's chunks along the sequence axis (77·k tokens).
 *  5. The AND parts are stacked as A1111's stack_conds does: a shorter one is lengthened by
 *     repeating its last token vector. The negative prompt keeps its own length (A1111's default);
 *     with `padConds` (A1111's "pad_cond_uncond"), the shorter side is lengthened with empty-prompt
 *     chunks instead, so both fit one UNet batch.
 *  6. SDXL: concatenate both encoders' features (768 + 1280 = 2048), take the pooled embedding of
 *     each text's first chunk from encoder 2, and zero the negative when the model asks for it.
 *
 * Clip skip: SD 1.x takes hidden_states[-N] and puts it through the final layer norm, as A1111
 * does (N = 1 is last_hidden_state itself; the norm's weights are recovered from the export, see
 * models/layer-norm.ts). SDXL was trained on the penultimate layer without that norm, so clip skip
 * 1 and 2 both mean hidden_states[-2], and N > 2 goes N layers deep, as ComfyUI's CLIPSetLastLayer
 * does for both encoders.
 */
import { chunkPrompt, chunkToEncoderInput, extractLoraTags, type WeightedToken } from '@easel/schema';
import type { HiddenStateChoice, LoadedModel, TextEncoderStage, UNetConditioningInput } from '../models/index.js';
import { InvalidRequestError } from './errors.js';

/** One AND part of the prompt: its text at this step and the weight of its guidance. */
export interface WeightedPrompt {
  text: string;
  weight: number;
}

export interface PromptEncodingRequest {
  /** The prompt's AND parts; one part for a prompt without AND. */
  prompts: readonly WeightedPrompt[];
  negativePrompt: string;
  /** A1111 numbering: 1 is the last layer, 2 the penultimate. */
  clipSkip: number;
  /** Each image of the batch gets its own copy of the rows below. */
  batchSize: number;
  /** Pixels; SDXL conditions on the image size (time_ids). */
  width: number;
  height: number;
  /** Lengthen the shorter of prompt and negative prompt with empty chunks (A1111's "pad conds"). */
  padConds?: boolean;
}

export interface PromptEncoding {
  /** [batchSize × parts, sequenceLength, embeddingWidth]: image 0's parts, then image 1's. */
  cond: Float32Array;
  /** [batchSize, uncondSequenceLength, embeddingWidth] */
  uncond: Float32Array;
  /** Each AND part's guidance weight, in the order of the cond rows of an image. */
  weights: number[];
  /** The prompt's tokens: 77 per chunk of its longest part. */
  sequenceLength: number;
  /** The negative prompt's tokens; equal to sequenceLength with padConds. */
  uncondSequenceLength: number;
  /** The UNet's cross-attention width: 768 SD 1.x, 2048 SDXL. */
  embeddingWidth: number;
  /** SDXL only. */
  sdxl?: {
    /** [batchSize × parts, pooledWidth]: encoder 2's text_embeds for each part's first chunk. */
    pooledCond: Float32Array;
    /** [batchSize, pooledWidth] */
    pooledUncond: Float32Array;
    pooledWidth: number;
    /** [6]: original height, width, crop top, left, target height, width. */
    timeIds: Float32Array;
  };
}

/** One encoder's view of all texts: chunk-major rows of token ids and weights. */
interface EncoderBatch {
  inputIds: Int32Array;
  weights: Float32Array;
}

/** A text encoded: its chunks side by side, [77·k, embeddingWidth], and (SDXL) its pooled embedding. */
interface EncodedText {
  hidden: Float32Array;
  tokens: number;
  pooled?: Float32Array;
}

export async function encodePrompts(model: LoadedModel, request: PromptEncodingRequest): Promise<PromptEncoding> {
  const sdxl = model.architecture === 'sdxl';
  const choice: HiddenStateChoice = sdxl
    ? { layerFromEnd: Math.max(2, request.clipSkip), finalLayerNorm: false }
    : { layerFromEnd: request.clipSkip, finalLayerNorm: true };
  for (const { encoder } of model.textEncoders) {
    if (choice.layerFromEnd > encoder.layers) {
      throw new InvalidRequestError(`clip skip ${request.clipSkip} goes deeper than this model's ${encoder.layers}-layer text encoder`);
    }
  }

  // The prompt's parts, the negative prompt, and with padConds the empty prompt that pads.
  // LoRA tags are applied to the weights, not encoded: cut them first, as A1111 does.
  const texts = [...request.prompts.map((part) => part.text), request.negativePrompt, ...(request.padConds ? [''] : [])].map((text) => extractLoraTags(text).text);
  const encoded = await encodeTexts(model, texts, choice);
  const parts = encoded.slice(0, request.prompts.length);
  const [negative, empty] = encoded.slice(request.prompts.length);
  const width = model.textEncoders.reduce((sum, { encoder }) => sum + encoder.width, 0);

  // A1111's stack_conds: parts of different lengths are evened out with their last token vector.
  let condTokens = Math.max(...parts.map((part) => part.tokens));
  let condParts = parts.map((part) => lengthen(part.hidden, part.tokens, condTokens, width));
  const zeroNegative = sdxl && model.forceZerosForEmptyPrompt && request.negativePrompt.trim() === '';
  let uncondTokens = negative.tokens;
  let uncond = zeroNegative ? new Float32Array(negative.hidden.length) : negative.hidden;
  if (request.padConds && condTokens !== uncondTokens) {
    const tokens = Math.max(condTokens, uncondTokens);
    condParts = condParts.map((part) => padWithEmpty(part, empty!.hidden, tokens * width));
    uncond = padWithEmpty(uncond, empty!.hidden, tokens * width);
    condTokens = uncondTokens = tokens;
  }

  const result: PromptEncoding = {
    cond: repeat(concatAll(condParts), request.batchSize),
    uncond: repeat(uncond, request.batchSize),
    weights: request.prompts.map((part) => part.weight),
    sequenceLength: condTokens,
    uncondSequenceLength: uncondTokens,
    embeddingWidth: width,
  };
  if (sdxl) {
    const pooledWidth = model.textEncoders[1].encoder.pooledWidth;
    result.sdxl = {
      pooledCond: repeat(concatAll(parts.map((part) => part.pooled!)), request.batchSize),
      pooledUncond: repeat(zeroNegative ? new Float32Array(pooledWidth) : negative.pooled!, request.batchSize),
      pooledWidth,
      timeIds: sdxlTimeIds(request.width, request.height),
    };
  }
  return result;
}

/** Every text through every encoder, all chunks of all texts in one batched run per encoder. */
async function encodeTexts(model: LoadedModel, texts: readonly string[], choice: HiddenStateChoice): Promise<EncodedText[]> {
  const perEncoder = await Promise.all(
    model.textEncoders.map(async (stage) => {
      const chunked = texts.map((text) => chunkPrompt(text, stage.tokenizer).chunks);
      const encoded = await encodeWeighted(stage, encoderBatch(stage, chunked.flat()), choice);
      return { chunked, encoded };
    }),
  );
  const length = model.textEncoders[0].tokenizer.modelMaxLength;
  const widths = model.textEncoders.map(({ encoder }) => encoder.width);
  let firstRow = 0;
  return texts.map((_, t) => {
    const chunks = perEncoder[0].chunked[t].length;
    const rows = { from: firstRow * length, to: (firstRow + chunks) * length };
    const hidden = concatFeatures(
      perEncoder.map(({ encoded }, i) => encoded.hidden.subarray(rows.from * widths[i], rows.to * widths[i])),
      widths,
      chunks * length,
    );
    const text: EncodedText = { hidden, tokens: chunks * length };
    if (model.architecture === 'sdxl') {
      const pooledWidth = model.textEncoders[1].encoder.pooledWidth;
      text.pooled = perEncoder[1].encoded.pooled.slice(firstRow * pooledWidth, (firstRow + 1) * pooledWidth);
    }
    firstRow += chunks;
    return text;
  });
}

/** A1111's stack_conds: [tokens, width] lengthened to `target` tokens with copies of its last token vector. */
function lengthen(hidden: Float32Array, tokens: number, target: number, width: number): Float32Array {
  if (tokens === target) return hidden;
  const out = new Float32Array(target * width);
  out.set(hidden);
  const last = hidden.subarray((tokens - 1) * width, tokens * width);
  for (let t = tokens; t < target; t++) out.set(last, t * width);
  return out;
}

/** A1111's pad_cond: empty-prompt chunks appended up to `length` values. */
function padWithEmpty(hidden: Float32Array, emptyChunk: Float32Array, length: number): Float32Array {
  if (hidden.length === length) return hidden;
  const out = new Float32Array(length);
  out.set(hidden);
  for (let at = hidden.length; at < length; at += emptyChunk.length) out.set(emptyChunk, at);
  return out;
}

/** Which rows of an encoding a UNet call takes. */
export type ConditioningRows = 'cond' | 'uncond' | 'both';

/**
 * The UNet's text inputs for a call: the batch's uncond rows, its cond rows (every AND part of
 * every image), or both in one batch, uncond first as diffusers orders them. `both` needs the two
 * sides at one length (a single part, or padConds).
 */
export function unetConditioningInput(encoding: PromptEncoding, rows: ConditioningRows): UNetConditioningInput {
  const { embeddingWidth, sdxl } = encoding;
  const batch = encoding.uncond.length / (encoding.uncondSequenceLength * embeddingWidth);
  const condRows = batch * encoding.weights.length;
  if (rows === 'both' && encoding.sequenceLength !== encoding.uncondSequenceLength) {
    throw new TypeError('cond and uncond rows of different lengths cannot share a UNet batch');
  }
  const pick = (uncond: Float32Array, cond: Float32Array) => (rows === 'cond' ? cond : rows === 'uncond' ? uncond : concat(uncond, cond));
  const count = rows === 'cond' ? condRows : rows === 'uncond' ? batch : batch + condRows;
  const tokens = rows === 'uncond' ? encoding.uncondSequenceLength : encoding.sequenceLength;
  const input: UNetConditioningInput = {
    encoderHiddenStates: { data: pick(encoding.uncond, encoding.cond), dims: [count, tokens, embeddingWidth] },
  };
  if (sdxl) {
    input.textEmbeds = { data: pick(sdxl.pooledUncond, sdxl.pooledCond), dims: [count, sdxl.pooledWidth] };
    input.timeIds = { data: repeat(sdxl.timeIds, count), dims: [count, 6] };
  }
  return input;
}

function concatAll(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * SDXL's size conditioning as diffusers and A1111 fill it for a plain generation: the image was
 * "originally" the target size and not cropped.
 */
export function sdxlTimeIds(width: number, height: number): Float32Array {
  return Float32Array.of(height, width, 0, 0, height, width);
}

function encoderBatch({ tokenizer }: TextEncoderStage, chunks: WeightedToken[][]): EncoderBatch {
  const length = tokenizer.modelMaxLength;
  const inputIds = new Int32Array(chunks.length * length);
  const weights = new Float32Array(chunks.length * length);
  chunks.forEach((chunk, row) => {
    const input = chunkToEncoderInput(chunk, tokenizer);
    inputIds.set(input.inputIds, row * length);
    weights.set(input.weights, row * length);
  });
  return { inputIds, weights };
}

/**
 * A1111's emphasis ("Original"): z *= weight per token, then z *= mean_before / mean_after over
 * the whole chunk, so emphasis shifts attention between tokens without changing overall scale.
 */
async function encodeWeighted({ encoder, tokenizer }: TextEncoderStage, batch: EncoderBatch, choice: HiddenStateChoice) {
  const rows = batch.inputIds.length / tokenizer.modelMaxLength;
  const { hidden, pooled } = await encoder.encode(batch.inputIds, rows, choice);
  const width = encoder.width;
  const chunkSize = tokenizer.modelMaxLength * width;
  for (let row = 0; row < rows; row++) {
    const tokenWeights = batch.weights.subarray(row * tokenizer.modelMaxLength, (row + 1) * tokenizer.modelMaxLength);
    if (tokenWeights.every((w) => w === 1)) continue;
    const z = hidden.subarray(row * chunkSize, (row + 1) * chunkSize);
    const meanBefore = mean(z);
    tokenWeights.forEach((w, token) => {
      for (let j = token * width; j < (token + 1) * width; j++) z[j] *= w;
    });
    const meanAfter = mean(z);
    if (meanAfter !== 0) {
      const restore = meanBefore / meanAfter;
      for (let j = 0; j < z.length; j++) z[j] *= restore;
    }
  }
  return { hidden, pooled };
}

function mean(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Joins per-token feature vectors of each encoder side by side: [tokens, w1] + [tokens, w2] -> [tokens, w1 + w2]. */
function concatFeatures(parts: Float32Array[], widths: number[], tokens: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(tokens * total);
  for (let t = 0; t < tokens; t++) {
    let offset = t * total;
    parts.forEach((part, i) => {
      out.set(part.subarray(t * widths[i], (t + 1) * widths[i]), offset);
      offset += widths[i];
    });
  }
  return out;
}

function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let i = 0; i < times; i++) out.set(values, i * values.length);
  return out;
}
