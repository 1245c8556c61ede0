import { GraphBuilder } from './graph-builder.js';
import type { WeightRandom } from './random.js';

const LATENT_CHANNELS = 4;
const SCALE = 8;

/** `latent_sample` [B,4,h,w] -> `sample` [B,3,8h,8w] in [-1, 1]: one stride-8 transposed conv and a tanh. */
export function buildVaeDecoder(floatType: 'float32' | 'float16', random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, floatType);
  const latents = g.input('latent_sample', floatType, ['batch_size', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const upsampled = g.op('ConvTranspose', [latents, g.weight([LATENT_CHANNELS, 3, SCALE, SCALE], 0.1), g.weight([3], 0.05)], {
    strides: [SCALE, SCALE],
  });
  g.output(g.op('Tanh', [upsampled]), 'sample', floatType, ['batch_size', 3, 'latent_height * 8', 'latent_width * 8']);
  return g.toBytes('vae_decoder');
}

/**
 * `sample` [B,3,H,W] -> `latent_parameters` [B,8,H/8,W/8]: the diagonal Gaussian's mean (4 channels)
 * then its log-variance (4 channels, biased low so samples stay near the mean, as a trained VAE's do).
 */
export function buildVaeEncoder(floatType: 'float32' | 'float16', random: WeightRandom): Uint8Array {
  const g = new GraphBuilder(random, floatType);
  const image = g.input('sample', floatType, ['batch_size', 3, 'sample_height', 'sample_width']);
  const bias = new Float32Array(2 * LATENT_CHANNELS).fill(-8, LATENT_CHANNELS);
  const moments = g.op('Conv', [image, g.weight([2 * LATENT_CHANNELS, 3, SCALE, SCALE], 0.05), g.floats([2 * LATENT_CHANNELS], bias)], {
    strides: [SCALE, SCALE],
  });
  g.output(moments, 'latent_parameters', floatType, ['batch_size', 2 * LATENT_CHANNELS, 'sample_height / 8', 'sample_width / 8']);
  return g.toBytes('vae_encoder');
}
