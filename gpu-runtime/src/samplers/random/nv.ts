import { philox4x32 } from './philox.js';

/**
 * A1111's "NV" source (modules/rng_philox.py): the numbers `torch.randn` gives on an NVIDIA GPU,
 * computed without one. Draw k (k = 0, 1, … counts the generator's randn calls) of n values is,
 * for value i,
 *
 *   (w0, w1, _, _) = Philox4x32-10(counter = (k, 0, i, 0), key = (seed mod 2^32, ⌊seed / 2^32⌋))
 *   u = w0·2^−32 + 2^−33,  v = (w1·2^−32 + 2^−33)·2π    (the constants rounded to float32 first)
 *   value = float32(√(−2·ln u)·sin v)                    (computed in float64)
 *
 * Each draw is its own counter range, so any draw of any seed can be computed directly.
 */

// A1111's constants, as float32 values (np.float32 arrays in rng_philox.py).
const TWO_POW32_INV = Math.fround(2.3283064e-10);
const TWO_POW32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855);
const TWO_POW_32 = 0x1_0000_0000;

export class NvGenerator {
  private offset = 0;

  constructor(private readonly seed: number) {}

  randn(n: number): Float32Array {
    const out = nvNormals(this.seed, this.offset, n);
    this.offset++;
    return out;
  }
}

/** Values 0 … n − 1 of draw `offset` for `seed`. */
export function nvNormals(seed: number, offset: number, n: number): Float32Array {
  return philoxNormals(seed, [offset, 0, 0], new Float32Array(n));
}

/**
 * The same transform over a counter family of one's choosing: value i of `out` comes from
 * counter (c0, c1, i, c3) under the seed's key. The NV draws are c1 = c3 = 0; other uses (the
 * Brownian tree) pick a c3 of their own so as never to meet them.
 */
export function philoxNormals(seed: number, [c0, c1, c3]: readonly [number, number, number], out: Float32Array): Float32Array {
  const k0 = seed % TWO_POW_32;
  const k1 = Math.floor(seed / TWO_POW_32);
  const words = new Uint32Array(4);
  for (let i = 0; i < out.length; i++) {
    philox4x32(c0, c1, i, c3, k0, k1, words);
    const u = words[0] * TWO_POW32_INV + TWO_POW32_INV / 2;
    const v = words[1] * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
  }
  return out;
}
