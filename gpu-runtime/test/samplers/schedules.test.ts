import { describe, expect, test } from 'vitest';
import { SCHEDULES } from '@easel/schema';
import {
  Discretization,
  exponentialSigmas,
  getSigmas,
  karrasSigmas,
  parseSchedulerConfig,
} from '../../src/samplers/index.js';

// Stable Diffusion 1.x/SDXL's training noise: scaled_linear, β 0.00085 → 0.012, 1000 timesteps.
const sd = Discretization.fromConfig(parseSchedulerConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 }));

const round4 = (sigmas: ArrayLike<number>) => Array.from(sigmas, (s) => Math.round(s * 1e4) / 1e4);
const differences = (values: number[]) => values.slice(1).map((v, i) => v - values[i]);

describe('sigma schedules', () => {
  // Reference values computed separately with numpy from k-diffusion's formulas (float64).
  test.each([
    ['normal', 10, [14.6146, 7.8399, 4.6092, 2.9183, 1.9502, 1.3449, 0.9324, 0.625, 0.3687, 0.0292, 0]],
    ['karras', 20, [14.6146, 11.7254, 9.3402, 7.3836, 5.7894, 4.4998, 3.4647, 2.6408, 1.9909, 1.4832, 1.0908, 0.7909, 0.5647, 0.3964, 0.273, 0.1842, 0.1213, 0.0779, 0.0485, 0.0292, 0]],
    ['exponential', 5, [14.6146, 3.089, 0.6529, 0.138, 0.0292, 0]],
    ['sgm_uniform', 5, [14.6146, 5.0924, 2.2797, 1.1629, 0.5712, 0]],
  ] as const)('%s with %i steps on SD 1.5 matches the reference', (schedule, steps, expected) => {
    expect(round4(getSigmas(schedule, sd, steps))).toEqual(expected);
  });

  test.each(SCHEDULES.flatMap((schedule) => [1, 2, 7, 30, 150].map((steps) => [schedule, steps] as const)))(
    '%s with %i steps: steps + 1 strictly decreasing sigmas from σ_max, ending in 0',
    (schedule, steps) => {
      const sigmas = getSigmas(schedule, sd, steps);
      expect(sigmas).toHaveLength(steps + 1);
      expect(sigmas[0]).toBeCloseTo(sd.sigmaMax, 9);
      expect(sigmas[steps]).toBe(0);
      for (let i = 0; i < steps; i++) expect(sigmas[i + 1]).toBeLessThan(sigmas[i]);
    },
  );

  test('normal visits evenly spaced timesteps from 999 to 0', () => {
    const timesteps = Array.from(getSigmas('normal', sd, 12).subarray(0, 12), (s) => sd.sigmaToTimestep(s));
    timesteps.forEach((t, i) => expect(t).toBeCloseTo(999 - (999 * i) / 11, 6));
  });

  test('sgm_uniform visits evenly spaced timesteps from 999, stopping one spacing short of 0', () => {
    const timesteps = Array.from(getSigmas('sgm_uniform', sd, 8).subarray(0, 8), (s) => sd.sigmaToTimestep(s));
    timesteps.forEach((t, i) => expect(t).toBeCloseTo(999 - (999 * i) / 8, 6));
  });

  test('karras is evenly spaced in σ^(1/7) from σ_max to σ_min', () => {
    const sigmas = Array.from(karrasSigmas(0.1, 10, 9).subarray(0, 9));
    expect(sigmas[0]).toBeCloseTo(10, 12);
    expect(sigmas[8]).toBeCloseTo(0.1, 12);
    const steps = differences(sigmas.map((s) => s ** (1 / 7)));
    for (const step of steps) expect(step).toBeCloseTo(steps[0], 12);
  });

  test('exponential is evenly spaced in log σ', () => {
    const sigmas = Array.from(exponentialSigmas(0.1, 10, 5).subarray(0, 5));
    expect(round4(sigmas)).toEqual([10, 3.1623, 1, 0.3162, 0.1]);
  });

  test('rejects a step count that is not a whole number of at least 1', () => {
    expect(() => getSigmas('karras', sd, 0)).toThrow(/steps must be a whole number of at least 1, got 0/);
    expect(() => getSigmas('normal', sd, 2.5)).toThrow(/got 2.5/);
    expect(() => getSigmas('simple' as never, sd, 10)).toThrow(/unknown sigma schedule "simple"/);
  });
});
