import type { RngSource } from '@easel/schema';
import { NvGenerator } from './nv.js';
import { TorchCpuGenerator } from './torch-cpu.js';

/**
 * A1111's "Random number generator source": where seeded noise comes from.
 *
 * - `CPU`: torch's CPU generator (`torch.manual_seed(seed); torch.randn(shape)`), as ComfyUI,
 *   Civitai's generator and A1111 set to CPU draw it.
 * - `NV`: A1111's rng_philox, the numbers `torch.randn` gives on an NVIDIA GPU, which is what
 *   A1111 and Forge draw by default on such a GPU ("GPU" source, not written into the infotext).
 */
export interface NormalGenerator {
  /** The generator's next `count` standard normals, as one `randn` call of that many values. */
  randn(count: number): Float32Array;
}

export function createGenerator(source: RngSource, seed: number): NormalGenerator {
  checkSeed(seed);
  switch (source) {
    case 'CPU':
      return new TorchCpuGenerator(seed);
    case 'NV':
      return new NvGenerator(seed);
    default:
      throw new RangeError(`unknown random number source "${String(source)}" (known: CPU, NV)`);
  }
}

export interface RandnOptions {
  seed: number;
  /** Dimensions; values are returned in row-major order. */
  shape: readonly number[];
  source: RngSource;
}

/**
 * The first `randn(shape)` of a freshly seeded generator, as a Float32Array in row-major order:
 * exactly what torch (CPU) or A1111 (NV) give for that seed and shape, so that noise can be
 * compared with other tools. Only the number of values matters, not how they are shaped.
 */
export function randn({ seed, shape, source }: RandnOptions): Float32Array {
  if (!shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new RangeError(`a shape is a list of whole numbers, got [${shape.join(', ')}]`);
  }
  return createGenerator(source, seed).randn(shape.reduce((count, size) => count * size, 1));
}

export function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`a noise seed must be a whole number from 0 to 2^53 - 1, got ${seed}`);
  }
}
