import { ElemType, type Dim } from './onnx-proto.js';
import { GraphBuilder, type IoType } from './graph-builder.js';
import type { WeightRandom } from './random.js';

export interface UNetSpec {
  crossAttentionDim: number;
  /** SDXL ("text_time" added conditioning): the pooled text embedding width; adds `text_embeds` and `time_ids`. */
  pooledDim?: number;
  /** Dtype of `sample`, `encoder_hidden_states`, the SDXL extras and `out_sample`. */
  floatType: 'float32' | 'float16';
  /** Exports differ: int64 or float, a scalar or a vector. */
  timestep: { type: IoType; dims: Dim[] };
  /** σ of each training timestep 0 … N−1, from the model's own scheduler config. */
  trainingSigmas: ArrayLike<number>;
}

const LATENT_CHANNELS = 4;
const HIDDEN_CHANNELS = 8;
const TIME_FREQUENCIES = 4;

/**
 * A UNet-shaped noise predictor with Optimum's names: `sample`, `timestep`,
 * `encoder_hidden_states` (+ `text_embeds`, `time_ids`) -> `out_sample`.
 *
 * It predicts the noise the way the ideal denoiser of latents x0 ~ N(μ, 1) would:
 *
 *   ε̂ = σ/√(1+σ²)·sample − σ/(1+σ²)·μ,   so that   D = x − σ·ε̂ = (x + σ²·μ) / (1 + σ²)
 *
 * with σ the training σ of `timestep` (from the model's scheduler config) and sample = x/√(1+σ²)
 * (c_in, applied by the pipeline). μ = tanh(conv3x3(silu(conv1x1(sample) + cond))), where cond
 * mixes a sinusoidal timestep embedding, a nonlinear average over the text tokens and, for SDXL,
 * the pooled text and size conditioning, so the output responds to every input the pipeline
 * feeds it. Because |μ| ≤ 1, D pulls x toward a bounded target as σ falls, and every sampler
 * stays stable at any step count, in fp16 too; a plain random network instead feeds its output
 * back with a random gain, and the latents grow to 10⁴ and past fp16's range.
 */
export function buildUNet(spec: UNetSpec, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, spec.floatType);
  const imageDims = ['batch_size', LATENT_CHANNELS, 'height', 'width'];

  const sample = g.input('sample', spec.floatType, imageDims);
  const timestep = g.input('timestep', spec.timestep.type, spec.timestep.dims);
  const context = g.input('encoder_hidden_states', spec.floatType, ['batch_size', 'sequence_length', spec.crossAttentionDim]);
  const t = g.op('Reshape', [g.op('Cast', [timestep], { to: ElemType.FLOAT }), g.ints([-1, 1])]);

  const frequencies = Float32Array.from({ length: TIME_FREQUENCIES }, (_, i) => Math.exp((-Math.log(10000) * i) / TIME_FREQUENCIES));
  const angles = g.op('Mul', [t, g.floats([1, TIME_FREQUENCIES], frequencies)]);
  const timeEmbedding = g.op('Concat', [g.op('Sin', [angles]), g.op('Cos', [angles])], { axis: 1 });
  let cond = g.linear(timeEmbedding, 2 * TIME_FREQUENCIES, HIDDEN_CHANNELS);

  const tokenFeatures = g.op('Tanh', [g.linear(context, spec.crossAttentionDim, HIDDEN_CHANNELS, 3 / Math.sqrt(spec.crossAttentionDim))]);
  cond = g.op('Add', [cond, g.op('ReduceMean', [tokenFeatures], { axes: [1], keepdims: 0 })]);

  if (spec.pooledDim !== undefined) {
    const textEmbeds = g.input('text_embeds', spec.floatType, ['batch_size', spec.pooledDim]);
    const timeIds = g.input('time_ids', spec.floatType, ['batch_size', 6]);
    // Sizes arrive in pixels (~1024); bring them to the scale of the other features.
    const sizes = g.op('Mul', [timeIds, g.floats([1], Float32Array.of(1 / 1024))]);
    const added = g.op('Concat', [textEmbeds, sizes], { axis: 1 });
    cond = g.op('Add', [cond, g.linear(added, spec.pooledDim + 6, HIDDEN_CHANNELS)]);
  }

  const conv1x1 = g.op('Conv', [sample, g.weight([HIDDEN_CHANNELS, LATENT_CHANNELS, 1, 1], 0.5), g.weight([HIDDEN_CHANNELS], 0.1)]);
  const h = g.op('Add', [conv1x1, g.op('Unsqueeze', [cond, g.ints([2, 3])])]);
  const activated = g.op('Mul', [h, g.op('Sigmoid', [h])]);
  const features = g.op('Conv', [activated, g.weight([LATENT_CHANNELS, HIDDEN_CHANNELS, 3, 3], 0.15), g.weight([LATENT_CHANNELS], 0.05)], {
    pads: [1, 1, 1, 1],
  });
  const mean = g.op('Tanh', [features]);

  const sigma = g.op('Reshape', [trainingSigma(g, t, spec.trainingSigmas), g.ints([-1, 1, 1, 1])]);
  const variance = g.op('Add', [g.op('Mul', [sigma, sigma]), g.floats([1], Float32Array.of(1))]);
  const sampleGain = g.op('Div', [sigma, g.op('Sqrt', [variance])]);
  const meanGain = g.op('Div', [sigma, variance]);
  const noise = g.op('Sub', [g.op('Mul', [sampleGain, sample]), g.op('Mul', [meanGain, mean])]);
  g.output(noise, 'out_sample', spec.floatType, imageDims);
  return g.toBytes('unet');
}

/** σ at fractional timesteps t ([k, 1]): log σ interpolated between the neighbouring training timesteps, as k-diffusion does. */
function trainingSigma(g: GraphBuilder, t: string, trainingSigmas: ArrayLike<number>): string {
  const logSigmas = g.floats([trainingSigmas.length], Float32Array.from(trainingSigmas, Math.log));
  const clamped = g.op('Clip', [t, g.floats([], Float32Array.of(0)), g.floats([], Float32Array.of(trainingSigmas.length - 1))]);
  const low = g.op('Floor', [clamped]);
  const high = g.op('Ceil', [clamped]);
  const logSigmaAt = (index: string) => g.op('Gather', [logSigmas, g.op('Cast', [index], { to: ElemType.INT64 })], { axis: 0 });
  const [logLow, logHigh] = [logSigmaAt(low), logSigmaAt(high)];
  const w = g.op('Sub', [clamped, low]);
  return g.op('Exp', [g.op('Add', [logLow, g.op('Mul', [w, g.op('Sub', [logHigh, logLow])])])]);
}
