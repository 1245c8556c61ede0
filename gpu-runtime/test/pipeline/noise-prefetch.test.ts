import { describe, expect, it } from 'vitest';
import { NoisePrefetcher } from '../../src/pipeline/noise-prefetch.js';
import { ImageNoise } from '../../src/samplers/index.js';

const options = { source: 'CPU', seeds: [11, 12], shape: [4, 4, 4] } as const;

/** The draws after the initial noise, in order, as ImageNoise gives them without prefetching. */
function expectedDraws(count: number): Float32Array[] {
  const noise = new ImageNoise(options);
  noise.first();
  return Array.from({ length: count }, () => noise.next());
}

describe('NoisePrefetcher', () => {
  it('hands out the generator’s draws in order, however prefetches and requests interleave', () => {
    const noise = new ImageNoise(options);
    noise.first();
    const prefetcher = new NoisePrefetcher(() => noise.next());
    const served: Float32Array[] = [];
    for (const pattern of ['prefetch, take', 'take', 'prefetch, prefetch, take', 'take', 'prefetch, take']) {
      for (const action of pattern.split(', ')) {
        if (action === 'prefetch') prefetcher.prefetch();
        else served.push(prefetcher.source(1, 0.5));
      }
    }
    expect(served).toEqual(expectedDraws(5));
  });

  it('holds at most one draw: a prefetch while one waits draws nothing', () => {
    let draws = 0;
    const prefetcher = new NoisePrefetcher(() => Float32Array.of(++draws));
    prefetcher.prefetch();
    prefetcher.prefetch();
    expect(draws).toBe(1);
    expect(prefetcher.source(1, 0.5)).toEqual(Float32Array.of(1));
    expect(prefetcher.source(0.5, 0.2)).toEqual(Float32Array.of(2));
  });
});
