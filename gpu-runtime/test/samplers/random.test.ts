import { describe, expect, test } from 'vitest';
import { BrownianTree, brownianNoise, createGenerator, ImageNoise, randn, slerpNoise } from '../../src/samplers/index.js';
import { Mt19937 } from '../../src/samplers/random/mt19937.js';
import { philox4x32 } from '../../src/samplers/random/philox.js';

const hex = (words: Uint32Array) => [...words].map((w) => w.toString(16).padStart(8, '0'));
const round4 = (values: ArrayLike<number>) => Array.from(values, (v) => Math.round(v * 1e4) / 1e4);

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

describe('MT19937', () => {
  test('seed 5489 gives the reference outputs, and the 10000th is the C++ standard check value', () => {
    // mt19937ar.c (init_genrand(5489)): 3499211612, 581869302; C++ [rand.predef]: 10000th = 4123659995.
    const engine = new Mt19937(5489);
    expect([engine.next(), engine.next()]).toEqual([3499211612, 581869302]);
    for (let i = 3; i < 10_000; i++) engine.next();
    expect(engine.next()).toBe(4123659995);
  });

  test('seed 0, and seeds past 2^32 keep their low 32 bits, as torch.manual_seed does', () => {
    // numpy: MT19937()._legacy_seeding(0); random_raw(3)
    const engine = new Mt19937(0);
    expect([engine.next(), engine.next(), engine.next()]).toEqual([2357136044, 2546248239, 3071714933]);
    expect(new Mt19937(2 ** 32 + 5).next()).toBe(new Mt19937(5).next());
  });
});

describe('randn, CPU: torch.manual_seed(seed); torch.randn(shape)', () => {
  test('seed 0, shape [4] (fewer than 16 values: the float64 path), as issue 12 and torch give', () => {
    // torch 2.x: tensor([ 1.5410, -0.2934, -2.1788,  0.5684])
    expect(round4(randn({ seed: 0, shape: [4], source: 'CPU' }))).toEqual([1.541, -0.2934, -2.1788, 0.5684]);
  });

  test('seed 0, shape [2, 3]: six values, the cached sine of each pair used', () => {
    // torch: torch.manual_seed(0); torch.randn(2, 3) → [[1.5410, -0.2934, -2.1788], [0.5684, -1.0845, -1.3986]]
    expect(round4(randn({ seed: 0, shape: [2, 3], source: 'CPU' }))).toEqual([1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986]);
  });

  test('seed 0, shape [4, 4] (16 values: the float32 Box–Muller blocks)', () => {
    // torch: torch.manual_seed(0); torch.randn(4, 4)
    expect(round4(randn({ seed: 0, shape: [4, 4], source: 'CPU' }))).toEqual([
      -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473,
    ]);
  });

  test('a generator continues as torch does: the small path caches across calls, blocks do not straddle', () => {
    const small = createGenerator('CPU', 5);
    expect([...small.randn(3), ...small.randn(3)]).toEqual([...randn({ seed: 5, shape: [6], source: 'CPU' })]);
    const large = createGenerator('CPU', 5);
    expect([...large.randn(32), ...large.randn(32)]).toEqual([...randn({ seed: 5, shape: [64], source: 'CPU' })]);
    // 17 values: the last 16 are drawn again and replace the tail; the first stays the block's.
    const seventeen = randn({ seed: 0, shape: [17], source: 'CPU' });
    expect(seventeen[0]).toBe(randn({ seed: 0, shape: [16], source: 'CPU' })[0]);
    expect(seventeen[1]).not.toBe(randn({ seed: 0, shape: [16], source: 'CPU' })[1]);
  });
});

describe('randn, NV: A1111 rng_philox', () => {
  test('seed 0, shape [3, 4] gives the values in rng_philox.py', () => {
    // modules/rng_philox.py docstring ("Expected output" of Generator(seed=0).randn(shape=(3, 4))).
    // Its numpy code, run here (numpy 2.4, float64), gives these within 2e-7: the docstring's digits
    // were printed from slightly different arithmetic; we follow the code.
    const expected = [
      -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564, -0.62285122, -0.32838709, -1.07454231, -0.36314407,
      -1.67105067, 2.26550497,
    ];
    const values = randn({ seed: 0, shape: [3, 4], source: 'NV' });
    values.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThan(3e-7));
  });

  test('each randn call of a generator is the next counter offset; seeds above 2^32 use the high key word', () => {
    const generator = createGenerator('NV', 42);
    const first = generator.randn(8);
    const second = generator.randn(8);
    expect(first).toEqual(randn({ seed: 42, shape: [8], source: 'NV' }));
    expect(second).not.toEqual(first);
    expect(randn({ seed: 2 ** 32 + 42, shape: [8], source: 'NV' })).not.toEqual(first);
  });

  test.each(['CPU', 'NV'] as const)('%s has the moments of a standard normal', (source) => {
    const values = randn({ seed: 1234, shape: [1 << 17], source });
    const n = values.length;
    let [sum, sum2, beyond196] = [0, 0, 0];
    for (const v of values) {
      sum += v;
      sum2 += v * v;
      if (Math.abs(v) > 1.959964) beyond196++;
    }
    // Standard errors at n = 2^17: mean 0.003, variance 0.004, tail share 0.0006.
    expect(Math.abs(sum / n)).toBeLessThan(0.012);
    expect(Math.abs(sum2 / n - 1)).toBeLessThan(0.016);
    expect(Math.abs(beyond196 / n - 0.05)).toBeLessThan(0.003);
  });

  test('bad seeds, shapes and sources are refused with a reason', () => {
    expect(() => randn({ seed: -1, shape: [4], source: 'NV' })).toThrow(/whole number from 0/);
    expect(() => randn({ seed: 1.5, shape: [4], source: 'CPU' })).toThrow(/whole number from 0/);
    expect(() => randn({ seed: 1, shape: [2, -1], source: 'CPU' })).toThrow(/shape/);
    expect(() => randn({ seed: 1, shape: [2], source: 'GPU' as never })).toThrow(/unknown random number source "GPU"/);
  });
});

describe('ImageNoise: the latent noise of a batch, as A1111 ImageRNG draws it', () => {
  const shape = [4, 8, 8] as const;
  const perImage = 256;

  test.each(['CPU', 'NV'] as const)('%s: image i is seed i’s own draws, initial then per step', (source) => {
    const batch = new ImageNoise({ source, seeds: [10, 11], shape });
    const [first, next] = [batch.first(), batch.next()];
    for (const [i, seed] of [10, 11].entries()) {
      const generator = createGenerator(source, seed);
      expect(first.subarray(i * perImage, (i + 1) * perImage)).toEqual(generator.randn(perImage));
      expect(next.subarray(i * perImage, (i + 1) * perImage)).toEqual(generator.randn(perImage));
    }
  });

  test.each(['CPU', 'NV'] as const)('%s: with ENSD the draws after the first come from seed + ENSD, afresh', (source) => {
    const noise = new ImageNoise({ source, seeds: [100], shape, etaNoiseSeedDelta: 31337 });
    expect(noise.first()).toEqual(randn({ seed: 100, shape, source }));
    expect(noise.next()).toEqual(randn({ seed: 100 + 31337, shape, source }));
  });

  test('variation seeds: strength 0 is the seed, 1 the variation seed, between a spherical mix', () => {
    const draw = (subseedStrength: number) => new ImageNoise({ source: 'NV', seeds: [1, 2], subseeds: [50, 51], subseedStrength, shape }).first();
    const seedNoise = randn({ seed: 2, shape, source: 'NV' });
    const variation = randn({ seed: 51, shape, source: 'NV' });
    expect(draw(0).subarray(perImage)).toEqual(seedNoise);
    const full = draw(1).subarray(perImage);
    full.forEach((value, j) => expect(value).toBeCloseTo(variation[j], 5));
    const half = draw(0.5).subarray(perImage);
    expect(half).toEqual(slerpNoise(0.5, seedNoise, variation, shape));
    // Spherical: each (channel, column) vector along H keeps about the norm of its ends.
    const columnNorm = (data: Float32Array, c: number, x: number) => Math.hypot(...Array.from({ length: 8 }, (_, y) => data[(c * 8 + y) * 8 + x]));
    const ratio = columnNorm(half, 1, 3) / ((columnNorm(seedNoise, 1, 3) + columnNorm(variation, 1, 3)) / 2);
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
  });

  test("slerp is A1111's: per column along H, and the reversed linear blend for nearly equal noises", () => {
    // One channel, H = 2, W = 1: the column (1, 0) towards (0, 1), ω = π/2: halfway is (√½, √½).
    const mixed = slerpNoise(0.5, Float32Array.of(1, 0), Float32Array.of(0, 1), [1, 2, 1]);
    expect(mixed[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(mixed[1]).toBeCloseTo(Math.SQRT1_2, 6);
    // Equal inputs (cosine 1 > 0.9995): strength·low + (1 − strength)·high, which is the input.
    const same = Float32Array.of(0.3, -1.2);
    expect(slerpNoise(0.25, same, Float32Array.from(same), [1, 2, 1])).toEqual(same);
    const nearly = slerpNoise(0.25, Float32Array.of(1, 0.01), Float32Array.of(1, 0.02), [1, 2, 1]);
    expect(nearly[1]).toBeCloseTo(0.25 * 0.01 + 0.75 * 0.02, 7);
  });

  test('the initial noise is drawn once, before any step noise', () => {
    const noise = new ImageNoise({ source: 'CPU', seeds: [1], shape });
    expect(() => noise.next()).toThrow(/initial noise first/);
    noise.first();
    expect(() => noise.first()).toThrow(/drawn already/);
    expect(() => new ImageNoise({ source: 'CPU', seeds: [1], shape, subseedStrength: 2 })).toThrow(/subseedStrength/);
  });
});

describe('Brownian tree', () => {
  const length = 4096;

  test('W(t0) = 0, increments have variance |t − s| and are independent over disjoint intervals', () => {
    const tree = new BrownianTree(7, length, 0.03, 14.6);
    expect(tree.at(0.03).every((w) => w === 0)).toBe(true);
    const variance = (a: Float64Array, b: Float64Array) => a.reduce((sum, value, j) => sum + (b[j] - value) ** 2, 0) / length;
    const [w1, w2, w3] = [tree.at(1), tree.at(1.37), tree.at(9)];
    // Standard error of a variance estimate from 4096 normals: ~2.2%.
    expect(variance(w1, w2) / 0.37).toBeGreaterThan(0.9);
    expect(variance(w1, w2) / 0.37).toBeLessThan(1.1);
    expect(variance(w2, w3) / 7.63).toBeGreaterThan(0.9);
    expect(variance(w2, w3) / 7.63).toBeLessThan(1.1);
    const correlation = w1.reduce((sum, value, j) => sum + (w2[j] - value) * (w3[j] - w2[j]), 0) / length / Math.sqrt(0.37 * 7.63);
    expect(Math.abs(correlation)).toBeLessThan(0.06);
  });

  test('a value depends on the seed and t only, not on what was asked before', () => {
    const forward = new BrownianTree(3, 16, 0.1, 10);
    const backward = new BrownianTree(3, 16, 0.1, 10);
    const points = [9.5, 7.25, 3.1, 0.4, 0.1234];
    const a = points.map((t) => forward.at(t));
    const b = [...points].reverse().map((t) => backward.at(t)).reverse();
    expect(a).toEqual(b);
    expect(new BrownianTree(4, 16, 0.1, 10).at(3.1)).not.toEqual(a[2]);
    // Continuous: a tiny step in t moves W by about its square root.
    const near = forward.at(3.1 + 1e-6);
    expect(Math.max(...near.map((w, j) => Math.abs(w - a[2][j])))).toBeLessThan(0.02);
  });

  test('prefetching the next level while the model runs changes no value', () => {
    const sigmas = [14.6, 7, 3, 1, 0.3, 0.03, 0];
    const plain = brownianNoise([5], 64, sigmas);
    const ahead = brownianNoise([5], 64, sigmas);
    for (let i = 0; i + 2 < sigmas.length; i++) {
      ahead.prefetch?.();
      ahead.prefetch?.();
      expect(ahead(sigmas[i], sigmas[i + 1])).toEqual(plain(sigmas[i], sigmas[i + 1]));
      // DPM++ SDE also asks for a midpoint, which is off the schedule.
      const mid = Math.sqrt(sigmas[i] * sigmas[i + 1]);
      expect(ahead(sigmas[i], mid)).toEqual(plain(sigmas[i], mid));
    }
  });

  test('brownianNoise gives standard-normal increments per image, seeded by the image', () => {
    const sigmas = [14.6, 5, 1, 0.03, 0];
    const batch = brownianNoise([8, 9], length, sigmas)(5, 1);
    const alone = brownianNoise([9], length, sigmas)(5, 1);
    expect(batch.subarray(length)).toEqual(alone);
    const meanSquare = batch.reduce((sum, z) => sum + z * z, 0) / batch.length;
    expect(meanSquare).toBeGreaterThan(0.93);
    expect(meanSquare).toBeLessThan(1.07);
  });
});
