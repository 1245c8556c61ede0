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
}

const LATENT_CHANNELS = 4;
const HIDDEN_CHANNELS = 8;
const TIME_FREQUENCIES = 4;

/**
 * A UNet-shaped noise predictor with Optimum's names: `sample`, `timestep`,
 * `encoder_hidden_states` (+ `text_embeds`, `time_ids`) -> `out_sample`.
 *
 * out = conv3x3(silu(conv1x1(sample) + cond)), where cond mixes a sinusoidal timestep embedding,
 * a nonlinear average over the text tokens and, for SDXL, the pooled text and size conditioning,
 * so the output visibly responds to every input the pipeline feeds it.
 */
export function buildUNet(spec: UNetSpec, random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, spec.floatType);
  const imageDims = ['batch_size', LATENT_CHANNELS, 'height', 'width'];

  const sample = g.input('sample', spec.floatType, imageDims);
  const timestep = g.input('timestep', spec.timestep.type, spec.timestep.dims);
  const context = g.input('encoder_hidden_states', spec.floatType, ['batch_size', 'sequence_length', spec.crossAttentionDim]);

  const frequencies = Float32Array.from({ length: TIME_FREQUENCIES }, (_, i) => Math.exp((-Math.log(10000) * i) / TIME_FREQUENCIES));
  const t = g.op('Reshape', [g.op('Cast', [timestep], { to: ElemType.FLOAT }), g.ints([-1, 1])]);
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
  const out = g.op('Conv', [activated, g.weight([LATENT_CHANNELS, HIDDEN_CHANNELS, 3, 3], 0.15), g.weight([LATENT_CHANNELS], 0.05)], {
    pads: [1, 1, 1, 1],
  });
  g.output(out, 'out_sample', spec.floatType, imageDims);
  return g.toBytes('unet');
}
