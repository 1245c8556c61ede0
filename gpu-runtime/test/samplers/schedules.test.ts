import { describe, expect, test } from 'vitest';
import { SCHEDULES } from '@easel/schema';
import { betaQuantile } from '../../src/samplers/beta-distribution.js';
import {
  alignYourStepsSigmas,
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
    // A1111 1.9+'s modules/sd_schedulers.py formulas, evaluated with numpy/scipy (float64):
    ['uniform', 10, [14.6146, 7.8399, 4.6092, 2.9183, 1.9502, 1.3449, 0.9324, 0.625, 0.3687, 0.0292, 0]],
    ['simple', 10, [14.6146, 8.3028, 5.0878, 3.3211, 2.2765, 1.6129, 1.1606, 0.8299, 0.5693, 0.3417, 0]],
    ['polyexponential', 5, [14.6146, 3.089, 0.6529, 0.138, 0.0292, 0]],
    // beta_scheduler with A1111's default α = β = 0.6 (scipy.stats.beta.ppf)
    ['beta', 10, [14.6146, 13.9278, 12.491, 10.5976, 8.4424, 6.2014, 4.0462, 2.1528, 0.716, 0.0292, 0]],
    // kl_optimal: steps + 1 values, the last σ_min (A1111 appends no 0)
    ['kl_optimal', 5, [14.6146, 2.6329, 1.2948, 0.7116, 0.3356, 0.0292]],
    // get_align_your_steps_sigmas, SD 1.5's table log-linearly interpolated (np.interp)
    ['align_your_steps', 20, [14.615, 9.5217, 6.3012, 4.8, 3.7179, 3.0781, 2.5489, 2.1115, 1.7703, 1.511, 1.266, 1.0413, 0.8514, 0.6934, 0.5441, 0.4202, 0.2658, 0.1599, 0.0694, 0.029, 0]],
  ] as const)('%s with %i steps on SD 1.5 matches the reference', (schedule, steps, expected) => {
    expect(round4(getSigmas(schedule, sd, steps))).toEqual(expected);
  });

  test("Align Your Steps uses SDXL's table for SDXL, as it is at 11 steps", () => {
    // A1111's SDXL table, appended 0 (no interpolation at its own length); 5 steps from np.interp.
    expect(round4(alignYourStepsSigmas('sdxl', 11))).toEqual([14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.38, 0.234, 0.113, 0.029, 0]);
    expect(round4(getSigmas('align_your_steps', sd, 5, 'sdxl'))).toEqual([14.615, 2.8678, 0.862, 0.2982, 0.029, 0]);
  });

  test('the beta quantile matches scipy.stats.beta.ppf(p, 0.6, 0.6)', () => {
    // scipy 1.17: 0.03958440558878085, 0.5, 0.9604155944112192, 0.9999814412614826
    expect(betaQuantile(0.1, 0.6, 0.6)).toBeCloseTo(0.03958440558878085, 12);
    expect(betaQuantile(0.5, 0.6, 0.6)).toBeCloseTo(0.5, 12);
    expect(betaQuantile(0.9, 0.6, 0.6)).toBeCloseTo(0.9604155944112192, 12);
    expect(betaQuantile(0.999, 0.6, 0.6)).toBeCloseTo(0.9999814412614826, 12);
  });

  const FROM_SIGMA_MAX_TO_ZERO = SCHEDULES.filter((schedule) => schedule !== 'kl_optimal' && schedule !== 'align_your_steps');
  test.each(FROM_SIGMA_MAX_TO_ZERO.flatMap((schedule) => [1, 2, 7, 30, 150].map((steps) => [schedule, steps] as const)))(
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
    expect(() => getSigmas('ddim_uniform' as never, sd, 10)).toThrow(/unknown sigma schedule "ddim_uniform"/);
  });
});
