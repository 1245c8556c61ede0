import { GraphBuilder } from './graph-builder.js';
import { ElemType } from './onnx-proto.js';
import type { WeightRandom } from './random.js';

export interface TextEncoderSpec {
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  maxPositions: number;
  layerNormEps: number;
  /** Set for CLIPTextModelWithProjection (SDXL's text_encoder_2), which outputs `text_embeds`. */
  projectionDim?: number;
  /** Dtype of every float output, as an fp32 or fp16 Optimum export writes it. */
  outputType: 'float32' | 'float16';
}

/**
 * A CLIP-shaped text encoder with Optimum's names: `input_ids` (int32) -> `last_hidden_state`,
 * `pooler_output` (or `text_embeds` with a projection), `hidden_states.0..N`.
 *
 * Each layer mixes every token with the ones before it (a causal running sum, as CLIP's causal
 * attention does) through its own weights, so every hidden state differs and a token changes
 * everything after it. `last_hidden_state` is a learned final layer norm of the last layer, so
 * clip skip is observable; the pooled output is taken at the first end-of-text token, the highest
 * id in the vocabulary, exactly as CLIP picks it (argmax of the ids).
 */
export function buildTextEncoder(spec: TextEncoderSpec, random: WeightRandom): Uint8Array {
  const { hiddenSize: H, layers, outputType } = spec;
  const g = new GraphBuilder(random, outputType);
  const batchSeq = ['batch_size', 'sequence_length'];

  const ids = g.input('input_ids', 'int32', batchSeq);
  const tokens = g.op('Gather', [g.weight([spec.vocabSize, H], 1), ids], { axis: 0 });
  const sequenceLength = g.op('Shape', [ids], { start: 1, end: 2 });
  const positions = g.op('Slice', [g.weight([spec.maxPositions, H], 0.5), g.ints([0]), sequenceLength, g.ints([0])]);

  const hidden = [g.op('Add', [tokens, positions])];
  const ones = g.floats([H], new Float32Array(H).fill(1));
  const zeros = g.floats([H], new Float32Array(H));
  const sequenceAxis = g.ints([1], []);
  for (let layer = 0; layer < layers; layer++) {
    const previous = hidden[hidden.length - 1];
    const mixed = g.op('CumSum', [previous, sequenceAxis]);
    const normed = g.op('LayerNormalization', [mixed, ones, zeros], { axis: -1, epsilon: spec.layerNormEps });
    const update = g.op('Tanh', [g.linear(normed, H, H, 1.5 / Math.sqrt(H))]);
    hidden.push(g.op('Add', [previous, update]));
  }

  const last = g.op('LayerNormalization', [hidden[layers], g.weight([H], 0.2, 1), g.weight([H], 0.2)], {
    axis: -1,
    epsilon: spec.layerNormEps,
  });

  const eosPosition = g.op('ArgMax', [g.op('Cast', [ids], { to: ElemType.FLOAT })], { axis: 1, keepdims: 1 });
  const gatherIndex = g.op('Expand', [g.op('Unsqueeze', [eosPosition, g.ints([2])]), g.ints([1, 1, H])]);
  const pooled = g.op('Squeeze', [g.op('GatherElements', [last, gatherIndex], { axis: 1 }), g.ints([1])]);

  if (spec.projectionDim === undefined) {
    g.output(last, 'last_hidden_state', outputType, [...batchSeq, H]);
    g.output(pooled, 'pooler_output', outputType, ['batch_size', H]);
  } else {
    const projection = g.weight([H, spec.projectionDim], 1 / Math.sqrt(H));
    g.output(g.op('MatMul', [pooled, projection]), 'text_embeds', outputType, ['batch_size', spec.projectionDim]);
    g.output(last, 'last_hidden_state', outputType, [...batchSeq, H]);
  }
  hidden.forEach((state, i) => g.output(state, `hidden_states.${i}`, outputType, [...batchSeq, H]));
  return g.toBytes('text_encoder');
}
