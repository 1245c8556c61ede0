import { GraphBuilder, type IoType } from './graph-builder.js';
import type { WeightRandom } from './random.js';

/**
 * Tiny graphs with the input and output names and dtypes of Flux's ONNX exports (Optimum's
 * names; BFL's differ only in output names, which the loader also reads).
 */

type FloatType = 'float32' | 'float16';

const LATENT_CHANNELS = 16;
const TOKEN_FEATURES = 64;
const HIDDEN = 16;
const TIME_FREQUENCIES = 4;

export interface FluxTransformerSpec {
  /** T5 width (4096 in FLUX.1). */
  textWidth: number;
  /** CLIP pooled width (768 in FLUX.1). */
  pooledWidth: number;
  /** T5 sequence length the graph is fixed to (512 dev, 256 schnell). */
  textLength: number;
  /** dev: adds the `guidance` input. */
  guidance: boolean;
  floatType: FloatType;
  /** Dtype of img_ids / txt_ids. */
  idsType: FloatType;
}

/**
 * `hidden_states` [B, N, 64], `encoder_hidden_states` [B, L, D], `pooled_projections` [B, P],
 * `timestep` [B], `img_ids` [N, 3], `txt_ids` [L, 3] (+ `guidance` [B]) → `out_hidden_states`.
 *
 * It predicts the velocity of a flow towards a bounded target μ: v = (x − μ)/σ, so that the
 * clean estimate x − σ·v is μ = tanh(W₂·silu(W₁·x + cond + pos)) where cond mixes the timestep,
 * the mean T5 token, the pooled CLIP embedding and the guidance, and pos comes from the token's
 * img_ids. Every input changes the output; Euler steps converge to μ at any step count.
 */
export function buildFluxTransformer(spec: FluxTransformerSpec, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, spec.floatType);
  const tokens = ['batch_size', 'image_tokens', TOKEN_FEATURES];
  const x = g.input('hidden_states', spec.floatType, tokens);
  const context = g.input('encoder_hidden_states', spec.floatType, ['batch_size', spec.textLength, spec.textWidth]);
  const pooled = g.input('pooled_projections', spec.floatType, ['batch_size', spec.pooledWidth]);
  const timestep = g.input('timestep', spec.floatType, ['batch_size']);
  const imgIds = g.input('img_ids', spec.idsType, ['image_tokens', 3]);
  const txtIds = g.input('txt_ids', spec.idsType, [spec.textLength, 3]);

  const sigma = g.op('Reshape', [timestep, g.ints([-1, 1])]);
  const frequencies = Float32Array.from({ length: TIME_FREQUENCIES }, (_, i) => 1000 * Math.exp((-Math.log(1000) * i) / TIME_FREQUENCIES));
  const angles = g.op('Mul', [sigma, g.floats([1, TIME_FREQUENCIES], frequencies)]);
  let cond = g.linear(g.op('Concat', [g.op('Sin', [angles]), g.op('Cos', [angles])], { axis: 1 }), 2 * TIME_FREQUENCIES, HIDDEN);
  const textFeatures = g.op('Tanh', [g.linear(context, spec.textWidth, HIDDEN, 3 / Math.sqrt(spec.textWidth))]);
  cond = g.op('Add', [cond, g.op('ReduceMean', [textFeatures], { axes: [1], keepdims: 0 })]);
  cond = g.op('Add', [cond, g.linear(pooled, spec.pooledWidth, HIDDEN)]);
  if (spec.guidance) {
    const guidance = g.input('guidance', spec.floatType, ['batch_size']);
    const scaled = g.op('Mul', [g.op('Reshape', [guidance, g.ints([-1, 1])]), g.floats([1], Float32Array.of(0.2))]);
    cond = g.op('Add', [cond, g.linear(scaled, 1, HIDDEN, 1)]);
  }
  // Positions: the image token's (row, column) and the text ids' mean, both small.
  const imagePosition = g.linear(g.op('Mul', [imgIds, g.floats([1], Float32Array.of(1 / 8))]), 3, HIDDEN);
  const textPosition = g.linear(g.op('ReduceMean', [txtIds], { axes: [0], keepdims: 0 }), 3, HIDDEN);

  let h = g.op('Add', [g.linear(x, TOKEN_FEATURES, HIDDEN, 0.5 / Math.sqrt(TOKEN_FEATURES)), g.op('Unsqueeze', [cond, g.ints([1])])]);
  h = g.op('Add', [g.op('Add', [h, imagePosition]), textPosition]);
  const activated = g.op('Mul', [h, g.op('Sigmoid', [h])]);
  const target = g.op('Tanh', [g.linear(activated, HIDDEN, TOKEN_FEATURES)]);

  const safeSigma = g.op('Reshape', [g.op('Max', [sigma, g.floats([], Float32Array.of(1e-3))]), g.ints([-1, 1, 1])]);
  const velocity = g.op('Div', [g.op('Sub', [x, target]), safeSigma]);
  g.output(velocity, 'out_hidden_states', spec.floatType, tokens);
  return g.toBytes('flux_transformer');
}

export interface T5EncoderSpec {
  vocabSize: number;
  width: number;
  idsType: Extract<IoType, 'int32' | 'int64'>;
  floatType: FloatType;
}

/**
 * T5's encoder, small: `input_ids` [B, L] → `last_hidden_state` [B, L, width]. Token embeddings,
 * a normalised running sum over the sequence (so a token changes what comes after it), and a tanh layer.
 */
export function buildT5Encoder(spec: T5EncoderSpec, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, spec.floatType);
  const ids = g.input('input_ids', spec.idsType, ['batch_size', 'sequence_length']);
  const embedded = g.op('Gather', [g.weight([spec.vocabSize, spec.width], 1), ids], { axis: 0 });
  const mixed = g.op('CumSum', [embedded, g.ints([1], [])]);
  const ones = g.floats([spec.width], new Float32Array(spec.width).fill(1));
  const zeros = g.floats([spec.width], new Float32Array(spec.width));
  const normed = g.op('LayerNormalization', [mixed, ones, zeros], { axis: -1, epsilon: 1e-6 });
  const hidden = g.op('Add', [embedded, g.op('Tanh', [g.linear(normed, spec.width, spec.width)])]);
  g.output(hidden, 'last_hidden_state', spec.floatType, ['batch_size', 'sequence_length', spec.width]);
  return g.toBytes('t5_encoder');
}

/** `latent_sample` [B, 16, h, w] → `sample` [B, 3, 8h, 8w]: one stride-8 transposed conv and a tanh. */
export function buildFluxVaeDecoder(floatType: FloatType, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, floatType);
  const latents = g.input('latent_sample', floatType, ['batch_size', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const upsampled = g.op('ConvTranspose', [latents, g.weight([LATENT_CHANNELS, 3, 8, 8], 0.06), g.weight([3], 0.05)], { strides: [8, 8] });
  g.output(g.op('Tanh', [upsampled]), 'sample', floatType, ['batch_size', 3, 'latent_height * 8', 'latent_width * 8']);
  return g.toBytes('vae_decoder');
}

/** `sample` [B, 3, H, W] → `latent_parameters` [B, 32, H/8, W/8]: 16 means, then 16 low log-variances. */
export function buildFluxVaeEncoder(floatType: FloatType, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, floatType);
  const image = g.input('sample', floatType, ['batch_size', 3, 'sample_height', 'sample_width']);
  const bias = new Float32Array(2 * LATENT_CHANNELS).fill(-8, LATENT_CHANNELS);
  const moments = g.op('Conv', [image, g.weight([2 * LATENT_CHANNELS, 3, 8, 8], 0.05), g.floats([2 * LATENT_CHANNELS], bias)], { strides: [8, 8] });
  g.output(moments, 'latent_parameters', floatType, ['batch_size', 2 * LATENT_CHANNELS, 'sample_height / 8', 'sample_width / 8']);
  return g.toBytes('vae_encoder');
}
