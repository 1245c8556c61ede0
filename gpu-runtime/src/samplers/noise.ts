import { normalQuantile } from './normal-quantile.js';
import { philox4x32 } from './philox.js';

/**
 * Seeded standard-normal noise, random access by (seed, stream, index).
 *
 * The algorithm, exactly, so that it can be reproduced elsewhere. Value n (n = 0, 1, 2, …) of
 * stream `stream` (an integer in [0, 2^32)) for seed `seed` (an integer in [0, 2^53)) is
 *
 *   key     = (seed mod 2^32, floor(seed / 2^32))
 *   counter = (floor(n / 4) mod 2^32, floor(n / 2^34), stream, 0)
 *   w       = word (n mod 4) of Philox4x32-10(counter, key)          (philox.ts, Random123)
 *   value   = Φ⁻¹((w + 0.5) / 2^32)                                    (normal-quantile.ts, AS 241)
 *
 * computed in float64 and rounded to float32 when stored. (w + 0.5) / 2^32 lies strictly inside
 * (0, 1), so values are finite, within about ±6.4.
 *
 * Streams: an image's initial latent noise is stream 0; the noise a sampler draws at step i
 * (0-based, counted within the sigmas it was given) is stream 1 + 2·i + draw, draw ∈ {0, 1}.
 * Image i of a batch uses seed + i, so an image's noise depends on its own seed only: a batch of 3
 * reproduces, image for image, three batches of 1.
 *
 * This is not torch's generator: seeds do not reproduce A1111's images pixel for pixel.
 */

export const INITIAL_NOISE_STREAM = 0;

/** How many independent noise draws one sampler step may take (DPM++ SDE takes two). */
export const MAX_DRAWS_PER_STEP = 2;

/** The stream of the `draw`-th noise a sampler takes at `step`. */
export function samplerNoiseStream(step: number, draw: number): number {
  if (!Number.isInteger(step) || step < 0 || !Number.isInteger(draw) || draw < 0 || draw >= MAX_DRAWS_PER_STEP) {
    throw new RangeError(`there is no noise stream for step ${step}, draw ${draw}`);
  }
  return 1 + MAX_DRAWS_PER_STEP * step + draw;
}

/**
 * Fresh standard-normal noise for the whole batch, for draw `draw` (0 or 1) of sampler step
 * `step`. The array returned may be overwritten by the next call for the same draw.
 */
export type NoiseSource = (step: number, draw: number) => Float32Array;

const TWO_POW_32 = 0x1_0000_0000;

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`a noise seed must be a whole number from 0 to 2^53 - 1, got ${seed}`);
  }
}

function checkStream(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
    throw new RangeError(`a noise stream must be a whole number from 0 to 2^32 - 1, got ${stream}`);
  }
}

/** Fills `out` with values 0 … out.length − 1 of (seed, stream). */
export function fillNormal(out: Float32Array, seed: number, stream: number): void {
  checkSeed(seed);
  checkStream(stream);
  const k0 = seed % TWO_POW_32;
  const k1 = Math.floor(seed / TWO_POW_32);
  const words = new Uint32Array(4);
  for (let start = 0, block = 0; start < out.length; start += 4, block++) {
    philox4x32(block % TWO_POW_32, Math.floor(block / TWO_POW_32), stream, 0, k0, k1, words);
    const count = Math.min(4, out.length - start);
    for (let lane = 0; lane < count; lane++) out[start + lane] = normalQuantile((words[lane] + 0.5) / TWO_POW_32);
  }
}

/** Value `index` of (seed, stream): the number fillNormal stores there. */
export function normalAt(seed: number, stream: number, index: number): number {
  checkSeed(seed);
  checkStream(stream);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`a noise index must be a whole number, got ${index}`);
  const block = Math.floor(index / 4);
  const words = new Uint32Array(4);
  philox4x32(block % TWO_POW_32, Math.floor(block / TWO_POW_32), stream, 0, seed % TWO_POW_32, Math.floor(seed / TWO_POW_32), words);
  return Math.fround(normalQuantile((words[index % 4] + 0.5) / TWO_POW_32));
}

/** Noise for a batch: image i's `perImageLength` values are (seeds[i], stream)'s first ones. */
export function batchNoise(seeds: readonly number[], stream: number, perImageLength: number, out?: Float32Array): Float32Array {
  const total = seeds.length * perImageLength;
  const noise = out ?? new Float32Array(total);
  if (noise.length !== total) throw new RangeError(`the noise buffer holds ${noise.length} values, the batch needs ${total}`);
  seeds.forEach((seed, i) => fillNormal(noise.subarray(i * perImageLength, (i + 1) * perImageLength), seed, stream));
  return noise;
}

/** The initial latent noise of a batch, image i from seeds[i]. */
export function initialNoise(seeds: readonly number[], perImageLength: number): Float32Array {
  return batchNoise(seeds, INITIAL_NOISE_STREAM, perImageLength);
}

/** The noise source a sampler draws from for a batch: one reused buffer per draw. */
export function samplerNoise(seeds: readonly number[], perImageLength: number): NoiseSource {
  seeds.forEach(checkSeed);
  const buffers = Array.from({ length: MAX_DRAWS_PER_STEP }, () => new Float32Array(seeds.length * perImageLength));
  return (step, draw) => batchNoise(seeds, samplerNoiseStream(step, draw), perImageLength, buffers[draw]);
}
