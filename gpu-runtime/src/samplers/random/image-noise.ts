import type { RngSource } from '@easel/schema';
import { checkSeed, createGenerator, type NormalGenerator } from './randn.js';

/**
 * The latent noise of a batch, drawn as A1111 draws it (modules/rng.py, ImageRNG):
 *
 * - each image i has its own generator, seeded with seeds[i] (A1111: seed + i);
 * - the first draw is the initial noise: randn(C·H·W) from that generator, spherically mixed with
 *   the same draw for the image's variation seed when subseedStrength > 0 (see slerpNoise);
 * - every later draw (the noise an ancestral sampler adds at a step, in the order it asks) is the
 *   generator's next randn(C·H·W); with an eta noise seed delta (ENSD) the generators start again
 *   after the first draw, seeded with seeds[i] + ENSD.
 *
 * Each image's values depend on its own seeds only, so a batch reproduces its images one by one.
 */
export interface ImageNoiseOptions {
  source: RngSource;
  seeds: readonly number[];
  /** One latent's [channels, height, width]. */
  shape: readonly [number, number, number];
  /** Variation seeds, image i's at i; only read when subseedStrength > 0. */
  subseeds?: readonly number[];
  /** 0 keeps the seed's noise, 1 gives the variation seed's. */
  subseedStrength?: number;
  /** A1111's "Eta noise seed delta" (ENSD): added to each seed for the draws after the first. */
  etaNoiseSeedDelta?: number;
}

export class ImageNoise {
  private generators: NormalGenerator[];
  private drawn = false;
  readonly perImage: number;
  readonly seeds: readonly number[];

  constructor(private readonly options: ImageNoiseOptions) {
    const { seeds, subseeds = [], subseedStrength = 0, etaNoiseSeedDelta = 0 } = options;
    seeds.forEach(checkSeed);
    if (subseedStrength) subseeds.forEach(checkSeed);
    if (!(subseedStrength >= 0 && subseedStrength <= 1)) throw new RangeError(`subseedStrength must be from 0 to 1, got ${subseedStrength}`);
    if (!Number.isSafeInteger(etaNoiseSeedDelta) || etaNoiseSeedDelta < 0) {
      throw new RangeError(`the eta noise seed delta must be a whole number of 0 or more, got ${etaNoiseSeedDelta}`);
    }
    this.generators = seeds.map((seed) => createGenerator(options.source, seed));
    this.perImage = options.shape.reduce((count, size) => count * size, 1);
    this.seeds = seeds;
  }

  /** The initial noise of the batch (image after image); the first call only. */
  first(): Float32Array {
    if (this.drawn) throw new Error('the initial noise has been drawn already');
    this.drawn = true;
    const { source, seeds, shape, subseeds = [], subseedStrength = 0, etaNoiseSeedDelta = 0 } = this.options;
    const batch = new Float32Array(seeds.length * this.perImage);
    this.generators.forEach((generator, i) => {
      let noise = generator.randn(this.perImage);
      if (subseedStrength !== 0) {
        // A1111 uses variation seed 0 for an image it has no variation seed for.
        const variation = createGenerator(source, subseeds[i] ?? 0).randn(this.perImage);
        noise = slerpNoise(subseedStrength, noise, variation, shape);
      }
      batch.set(noise, i * this.perImage);
    });
    if (etaNoiseSeedDelta) this.generators = seeds.map((seed) => createGenerator(source, seed + etaNoiseSeedDelta));
    return batch;
  }

  /** The next draw for the whole batch: what an ancestral sampler adds at its next noisy step. */
  next(): Float32Array {
    if (!this.drawn) throw new Error('draw the initial noise first');
    const batch = new Float32Array(this.generators.length * this.perImage);
    this.generators.forEach((generator, i) => batch.set(generator.randn(this.perImage), i * this.perImage));
    return batch;
  }
}

/**
 * A1111's slerp(strength, noise, variation) for one latent of shape [C, H, W], quirks included:
 * the vectors it interpolates between are the columns along H (torch dim 1), one angle per
 * (channel, column), and when the mean cosine exceeds 0.9995 it falls back to the linear
 * strength·noise + (1 − strength)·variation, weights the other way round from the slerp.
 */
export function slerpNoise(strength: number, noise: Float32Array, variation: Float32Array, [channels, height, width]: readonly [number, number, number]): Float32Array {
  const column = (data: Float32Array, c: number, x: number) => Array.from({ length: height }, (_, y) => data[(c * height + y) * width + x]);
  const norm = (values: number[]) => Math.hypot(...values);
  const cosines = new Float64Array(channels * width);
  for (let c = 0; c < channels; c++) {
    for (let x = 0; x < width; x++) {
      const a = column(noise, c, x);
      const b = column(variation, c, x);
      const [na, nb] = [norm(a), norm(b)];
      cosines[c * width + x] = a.reduce((sum, value, y) => sum + (value / na) * (b[y] / nb), 0);
    }
  }
  const out = new Float32Array(noise.length);
  if (cosines.reduce((sum, value) => sum + value, 0) / cosines.length > 0.9995) {
    for (let j = 0; j < out.length; j++) out[j] = noise[j] * strength + variation[j] * (1 - strength);
    return out;
  }
  for (let c = 0; c < channels; c++) {
    for (let x = 0; x < width; x++) {
      const omega = Math.acos(cosines[c * width + x]);
      const so = Math.sin(omega);
      const [wa, wb] = [Math.sin((1 - strength) * omega) / so, Math.sin(strength * omega) / so];
      for (let y = 0; y < height; y++) {
        const j = (c * height + y) * width + x;
        out[j] = wa * noise[j] + wb * variation[j];
      }
    }
  }
  return out;
}
