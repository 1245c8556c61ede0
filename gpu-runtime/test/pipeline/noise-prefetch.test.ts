import { describe, expect, it } from 'vitest';
import { NoisePrefetcher } from '../../src/pipeline/noise-prefetch.js';
import { samplerNoise } from '../../src/samplers/index.js';

const SEEDS = [11, 12];
const LENGTH = 37; // per image; odd, so image boundaries fall inside a Philox block
const STEPS = 6;

/** What samplerNoise gives for (step, draw), copied out of its reused buffer. */
const expected = (step: number, draw: number) => Float32Array.from(samplerNoise(SEEDS, LENGTH)(step, draw));

describe('NoisePrefetcher', () => {
  it('hands out samplerNoise values, one draw per step as ancestral samplers ask, prefetching between requests', () => {
    const noise = new NoisePrefetcher(SEEDS, LENGTH, STEPS - 2);
    for (let step = 0; step < STEPS - 1; step++) {
      noise.prefetch(); // the model runs
      const drawn = noise.source(step, 0);
      const copy = Float32Array.from(drawn);
      expect(copy).toEqual(expected(step, 0));
      noise.prefetch(); // another model call before the sampler is done with `drawn`
      expect(drawn).toEqual(copy);
    }
  });

  it('keeps draw 0 intact while DPM++ SDE asks for draw 1 of the same step', () => {
    const noise = new NoisePrefetcher(SEEDS, LENGTH, STEPS - 2);
    for (let step = 0; step < STEPS - 1; step++) {
      noise.prefetch();
      const z0 = noise.source(step, 0);
      const z0Copy = Float32Array.from(z0);
      noise.prefetch(); // the midpoint model call
      const z1 = noise.source(step, 1);
      expect(z0).toEqual(z0Copy);
      expect(z0Copy).toEqual(expected(step, 0));
      expect(Float32Array.from(z1)).toEqual(expected(step, 1));
    }
  });

  it('draws an unforeseen request on the spot', () => {
    const noise = new NoisePrefetcher(SEEDS, LENGTH, STEPS - 2);
    noise.source(0, 0);
    noise.prefetch(); // prepares step 1
    expect(Float32Array.from(noise.source(3, 0))).toEqual(expected(3, 0));
    expect(Float32Array.from(noise.source(1, 0))).toEqual(expected(1, 0));
  });
});
