/**
 * Text conditioning, A1111-style: prompt and negative prompt -> the UNet's `encoder_hidden_states`
 * (and, for SDXL, `text_embeds` and `time_ids`).
 *
 *  1. Parse the attention syntax and split into 75-token chunks (schema/prompt), per tokenizer.
 *  2. Pad positive and negative to the same number of chunks with empty chunks, so classifier-free
 *     guidance can run both in one batch; the empty chunk encodes as the empty prompt does.
 *  3. Encode every chunk (BOS, 75 tokens, EOS, padding) in one batched encoder run.
 *  4. Weight each token's embedding and restore the chunk's original mean.
 *  5. Concatenate the chunks along the sequence axis (77·k tokens).
 *  6. SDXL: concatenate both encoders' features (768 + 1280 = 2048), take the pooled embedding of
 *     the first chunk from encoder 2, and zero the negative when the model asks for it.
 *
 * Clip skip: SD 1.x takes hidden_states[-N] and puts it through the final layer norm, as A1111
 * does (N = 1 is last_hidden_state itself; the norm's weights are recovered from the export, see
 * models/layer-norm.ts). SDXL was trained on the penultimate layer without that norm, so clip skip
 * 1 and 2 both mean hidden_states[-2], and N > 2 goes N layers deep, as ComfyUI's CLIPSetLastLayer
 * does for both encoders.
 */
import { chunkPrompt, chunkToEncoderInput, type WeightedToken } from '@easel/schema';
import type { HiddenStateChoice, LoadedModel, TextEncoderStage, UNetConditioningInput } from '../models/index.js';
import { InvalidRequestError } from './errors.js';

export interface PromptEncodingRequest {
  prompt: string;
  negativePrompt: string;
  /** A1111 numbering: 1 is the last layer, 2 the penultimate. */
  clipSkip: number;
  /** Each image of the batch gets its own copy of the rows below. */
  batchSize: number;
  /** Pixels; SDXL conditions on the image size (time_ids). */
  width: number;
  height: number;
}

export interface PromptEncoding {
  /** [batchSize, sequenceLength, embeddingWidth] */
  cond: Float32Array;
  /** [batchSize, sequenceLength, embeddingWidth]; same shape as cond, so both fit one UNet batch. */
  uncond: Float32Array;
  /** 77 per chunk. */
  sequenceLength: number;
  /** The UNet's cross-attention width: 768 SD 1.x, 2048 SDXL. */
  embeddingWidth: number;
  /** SDXL only. */
  sdxl?: {
    /** [batchSize, pooledWidth]: encoder 2's text_embeds for the first chunk. */
    pooledCond: Float32Array;
    pooledUncond: Float32Array;
    pooledWidth: number;
    /** [batchSize, 6]: original height, width, crop top, left, target height, width. */
    timeIds: Float32Array;
  };
}

/** One encoder's view of both prompts: chunk-major rows of token ids and weights. */
interface EncoderBatch {
  inputIds: Int32Array;
  weights: Float32Array;
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

  const chunked = model.textEncoders.map(({ tokenizer }) => ({
    positive: chunkPrompt(request.prompt, tokenizer).chunks,
    negative: chunkPrompt(request.negativePrompt, tokenizer).chunks,
  }));
  const chunkCount = Math.max(...chunked.flatMap(({ positive, negative }) => [positive.length, negative.length]));

  // Rows 0..k-1 are the prompt's chunks, rows k..2k-1 the negative prompt's.
  const encoded = await Promise.all(
    model.textEncoders.map((stage, i) => {
      const batch = encoderBatch(stage, [...padChunks(chunked[i].positive, chunkCount), ...padChunks(chunked[i].negative, chunkCount)]);
      return encodeWeighted(stage, batch, choice);
    }),
  );

  const sequenceLength = chunkCount * model.textEncoders[0].tokenizer.modelMaxLength;
  const widths = model.textEncoders.map(({ encoder }) => encoder.width);
  const embeddingWidth = widths.reduce((a, b) => a + b, 0);
  const hidden = concatFeatures(encoded.map((e) => e.hidden), widths, 2 * sequenceLength);
  const half = sequenceLength * embeddingWidth;
  const zeroNegative = sdxl && model.forceZerosForEmptyPrompt && request.negativePrompt.trim() === '';
  const cond = hidden.subarray(0, half);
  const uncond = zeroNegative ? new Float32Array(half) : hidden.subarray(half);

  const result: PromptEncoding = {
    cond: repeat(cond, request.batchSize),
    uncond: repeat(uncond, request.batchSize),
    sequenceLength,
    embeddingWidth,
  };
  if (sdxl) {
    const { pooled } = encoded[1];
    const pooledWidth = model.textEncoders[1].encoder.pooledWidth;
    const pooledUncond = zeroNegative ? new Float32Array(pooledWidth) : pooled.subarray(chunkCount * pooledWidth, (chunkCount + 1) * pooledWidth);
    result.sdxl = {
      pooledCond: repeat(pooled.subarray(0, pooledWidth), request.batchSize),
      pooledUncond: repeat(pooledUncond, request.batchSize),
      pooledWidth,
      timeIds: repeat(sdxlTimeIds(request.width, request.height), request.batchSize),
    };
  }
  return result;
}

/**
 * The UNet's text inputs for a step's batch, in diffusers' order: the batch's uncond rows, then
 * its cond rows, when classifier-free guidance runs both in one call; the cond rows alone when it
 * does not (CFG scale 1).
 */
export function unetConditioningInput(encoding: PromptEncoding, withUncond: boolean): UNetConditioningInput {
  const join = (uncond: Float32Array, cond: Float32Array) => (withUncond ? concat(uncond, cond) : cond);
  const batch = encoding.cond.length / (encoding.sequenceLength * encoding.embeddingWidth);
  const rows = withUncond ? 2 * batch : batch;
  const input: UNetConditioningInput = {
    encoderHiddenStates: { data: join(encoding.uncond, encoding.cond), dims: [rows, encoding.sequenceLength, encoding.embeddingWidth] },
  };
  if (encoding.sdxl) {
    const { pooledUncond, pooledCond, pooledWidth, timeIds } = encoding.sdxl;
    input.textEmbeds = { data: join(pooledUncond, pooledCond), dims: [rows, pooledWidth] };
    input.timeIds = { data: join(timeIds, timeIds), dims: [rows, 6] };
  }
  return input;
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

function padChunks(chunks: WeightedToken[][], count: number): WeightedToken[][] {
  return [...chunks, ...Array.from({ length: count - chunks.length }, () => [])];
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
