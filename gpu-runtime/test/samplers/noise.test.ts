import { describe, expect, test } from 'vitest';
import {
  batchNoise,
  fillNormal,
  initialNoise,
  normalAt,
  samplerNoise,
  samplerNoiseStream,
} from '../../src/samplers/index.js';
import { normalQuantile } from '../../src/samplers/normal-quantile.js';
import { philox4x32 } from '../../src/samplers/philox.js';

const hex = (words: Uint32Array) => [...words].map((w) => w.toString(16).padStart(8, '0'));

describe('Philox4x32-10', () => {
  // Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected output.
  test.each([
    [[0, 0, 0, 0], [0, 0], ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']],
  ])('known answer for counter %j, key %j', (counter, key, expected) => {
    const out = new Uint32Array(4);
    philox4x32(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
    expect(hex(out)).toEqual(expected);
  });
});

describe('normal quantile (AS 241)', () => {
  test.each([
    [0.5, 0],
    [0.975, 1.959963984540054],
    [0.8413447460685429, 1], // Φ(1)
    [0.022750131948179195, -2], // Φ(−2): the first tail region
    [1e-10, -6.361340902404056], // the far tail
    [1 - 1e-10, 6.361340889697422],
  ])('Φ⁻¹(%d) = %d', (p, z) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 7);
  });

  test('is odd around 1/2 and increasing', () => {
    let previous = -Infinity;
    for (let k = 1; k < 1000; k++) {
      const p = k / 1000;
      expect(normalQuantile(p)).toBeCloseTo(-normalQuantile(1 - p), 12);
      expect(normalQuantile(p)).toBeGreaterThan(previous);
      previous = normalQuantile(p);
    }
  });
});

describe('seeded normal noise', () => {
  test('has the moments of a standard normal', () => {
    const n = 1 << 18;
    const values = new Float32Array(n);
    fillNormal(values, 1234, 0);
    let [sum, sum2, sum4, beyond196] = [0, 0, 0, 0];
    for (const v of values) {
      sum += v;
      sum2 += v * v;
      sum4 += v ** 4;
      if (Math.abs(v) > 1.959964) beyond196++;
    }
    // Standard errors at n = 2^18: mean 0.002, variance 0.003, kurtosis 0.01, tail share 0.0004.
    expect(Math.abs(sum / n)).toBeLessThan(0.008);
    expect(Math.abs(sum2 / n - 1)).toBeLessThan(0.012);
    expect(Math.abs(sum4 / n - 3)).toBeLessThan(0.06);
    expect(Math.abs(beyond196 / n - 0.05)).toBeLessThan(0.002);
  });

  test('neighbouring values, seeds and streams are uncorrelated', () => {
    const n = 1 << 16;
    const [a, b, c] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    fillNormal(a, 7, 3);
    fillNormal(b, 8, 3);
    fillNormal(c, 7, 4);
    const correlation = (x: Float32Array, y: Float32Array, lag = 0) => {
      let s = 0;
      for (let j = 0; j + lag < n; j++) s += x[j] * y[j + lag];
      return s / (n - lag);
    };
    // 4 standard errors at n = 2^16.
    for (const [x, y, lag] of [[a, b, 0], [a, c, 0], [a, a, 1], [a, a, 4]] as const) {
      expect(Math.abs(correlation(x, y, lag))).toBeLessThan(4 / Math.sqrt(n));
    }
  });

  test('is deterministic and random access', () => {
    const first = new Float32Array(1001);
    const second = new Float32Array(1001);
    fillNormal(first, 42, 5);
    fillNormal(second, 42, 5);
    expect(second).toEqual(first);
    for (const index of [0, 1, 2, 3, 4, 517, 1000]) expect(normalAt(42, 5, index)).toBe(first[index]);
    // A shorter buffer is a prefix of a longer one.
    const prefix = new Float32Array(7);
    fillNormal(prefix, 42, 5);
    expect(prefix).toEqual(first.subarray(0, 7));
  });

  test('depends on the seed and the stream, including seeds beyond 32 bits', () => {
    const of = (seed: number, stream: number) => {
      const v = new Float32Array(8);
      fillNormal(v, seed, stream);
      return v;
    };
    expect(of(1, 0)).not.toEqual(of(2, 0));
    expect(of(1, 0)).not.toEqual(of(1, 1));
    expect(of(2 ** 32 + 1, 0)).not.toEqual(of(1, 0));
    expect(of(2 ** 32 - 1 + 3, 0)).toEqual(of(2 ** 32 + 2, 0));
  });

  test('image i of a batch is the same noise as seed + i alone', () => {
    const perImage = 4 * 8 * 8;
    const batch = batchNoise([100, 101, 102], 9, perImage);
    for (let i = 0; i < 3; i++) {
      expect(batch.subarray(i * perImage, (i + 1) * perImage)).toEqual(batchNoise([100 + i], 9, perImage));
    }
    expect(initialNoise([100], perImage)).toEqual(batchNoise([100], 0, perImage));
  });

  test('a sampler draws a distinct stream for every step and draw', () => {
    const streams = new Set<number>();
    for (let step = 0; step < 150; step++) for (let draw = 0; draw < 2; draw++) streams.add(samplerNoiseStream(step, draw));
    expect(streams.size).toBe(300);
    expect(streams.has(0)).toBe(false); // stream 0 is the initial noise
    const noise = samplerNoise([5, 6], 16);
    const step3 = Float32Array.from(noise(3, 0));
    expect(step3).toEqual(batchNoise([5, 6], samplerNoiseStream(3, 0), 16));
    expect(noise(3, 1)).not.toEqual(step3);
    expect(noise(4, 0)).not.toEqual(step3);
  });

  test('rejects seeds and streams it cannot represent', () => {
    const out = new Float32Array(4);
    expect(() => fillNormal(out, -1, 0)).toThrow(/seed/);
    expect(() => fillNormal(out, 1.5, 0)).toThrow(/seed/);
    expect(() => fillNormal(out, 2 ** 53, 0)).toThrow(/seed/);
    expect(() => fillNormal(out, 1, 2 ** 32)).toThrow(/stream/);
    expect(() => samplerNoiseStream(0, 2)).toThrow(/draw 2/);
    expect(() => batchNoise([1, 2], 0, 4, new Float32Array(7))).toThrow(/needs 8/);
  });
});
