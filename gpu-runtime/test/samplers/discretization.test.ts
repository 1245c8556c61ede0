import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  denoiserScalings,
  Discretization,
  parseSchedulerConfig,
  readSchedulerConfig,
  SchedulerConfigError,
} from '../../src/samplers/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');
const schedulerConfig = (model: string) => path.join(fixtures, model, 'scheduler/scheduler_config.json');

describe('scheduler config', () => {
  test.each(['sd15-pastel-mix', 'sdxl-base-1.0'])('%s: scaled_linear gives σ_max 14.6146 and σ_min 0.0292', async (model) => {
    const config = await readSchedulerConfig(schedulerConfig(model));
    expect(config.predictionType).toBe('epsilon');
    expect(config.numTrainTimesteps).toBe(1000);
    const discretization = Discretization.fromConfig(config);
    expect(discretization.sigmas).toHaveLength(1000);
    expect(discretization.sigmaMax).toBeCloseTo(14.6146, 4);
    expect(discretization.sigmaMin).toBeCloseTo(0.0292, 4);
    expect(discretization.maxTimestep).toBe(999);
  });

  test('scaled_linear is linear in √β, linear in β', () => {
    const base = { beta_start: 0.0004, beta_end: 0.0256, num_train_timesteps: 5 };
    const scaled = parseSchedulerConfig({ ...base, beta_schedule: 'scaled_linear' });
    expect([...scaled.betas].map(Math.sqrt)).toEqual([0.02, 0.055, 0.09, 0.125, 0.16].map((v) => expect.closeTo(v, 12)));
    const linear = parseSchedulerConfig({ ...base, beta_schedule: 'linear' });
    expect([...linear.betas]).toEqual([0.0004, 0.0067, 0.013, 0.0193, 0.0256].map((v) => expect.closeTo(v, 12)));
  });

  test('σ_t = √((1 − ᾱ_t)/ᾱ_t) with ᾱ the running product of 1 − β', () => {
    const discretization = Discretization.fromConfig(parseSchedulerConfig({ trained_betas: [0.1, 0.2, 0.5], num_train_timesteps: 3 }));
    const alphaBars = [0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.5];
    expect([...discretization.sigmas]).toEqual(alphaBars.map((a) => expect.closeTo(Math.sqrt((1 - a) / a), 12)));
  });

  test("takes diffusers' defaults for fields left out", () => {
    const config = parseSchedulerConfig({});
    expect(config.predictionType).toBe('epsilon');
    expect(config.betas).toHaveLength(1000);
    expect(config.betas[0]).toBeCloseTo(0.0001, 12);
    expect(config.betas[999]).toBeCloseTo(0.02, 12);
  });

  test('reads v_prediction', () => {
    expect(parseSchedulerConfig({ prediction_type: 'v_prediction' }).predictionType).toBe('v_prediction');
  });

  test.each([
    [{ beta_schedule: 'squaredcos_cap_v2' }, /unsupported beta_schedule "squaredcos_cap_v2".*linear, scaled_linear/],
    [{ prediction_type: 'sample' }, /unsupported prediction_type "sample".*epsilon, v_prediction/],
    [{ rescale_betas_zero_snr: true }, /rescale_betas_zero_snr/],
    [{ beta_start: -1 }, /invalid scheduler config.*beta_start/s],
    [{ num_train_timesteps: 'many' }, /invalid scheduler config.*num_train_timesteps/s],
    [{ trained_betas: [0.1, 0.2], num_train_timesteps: 3 }, /2 trained_betas for num_train_timesteps 3/],
    ['not an object', /invalid scheduler config/],
  ])('rejects %j with a clear error', (json, message) => {
    let error: unknown;
    try {
      parseSchedulerConfig(json);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SchedulerConfigError);
    expect((error as SchedulerConfigError).code).toBe('MODEL_INVALID');
    expect((error as Error).message).toMatch(message);
  });

  test('a missing or corrupt file is a SchedulerConfigError naming it', async () => {
    await expect(readSchedulerConfig('/nonexistent/scheduler_config.json')).rejects.toThrow(
      /cannot read the scheduler config \/nonexistent\/scheduler_config.json/,
    );
  });
});

describe('sigma ↔ timestep', () => {
  const discretization = Discretization.fromConfig(parseSchedulerConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 }));

  test('the table σ of a timestep maps back to that timestep', () => {
    for (const t of [0, 1, 17, 500, 998, 999]) {
      expect(discretization.sigmaToTimestep(discretization.sigmas[t])).toBeCloseTo(t, 9);
      expect(discretization.timestepToSigma(t)).toBeCloseTo(discretization.sigmas[t], 12);
    }
  });

  test('between timesteps it interpolates log σ', () => {
    const [low, high] = [discretization.sigmas[300], discretization.sigmas[301]];
    const geometricMean = Math.sqrt(low * high);
    expect(discretization.sigmaToTimestep(geometricMean)).toBeCloseTo(300.5, 9);
    expect(discretization.timestepToSigma(300.5)).toBeCloseTo(geometricMean, 12);
    expect(discretization.timestepToSigma(300.25)).toBeCloseTo(low ** 0.75 * high ** 0.25, 12);
    for (const t of [0.3, 123.456, 998.9]) expect(discretization.sigmaToTimestep(discretization.timestepToSigma(t))).toBeCloseTo(t, 9);
  });

  test('clamps σ outside the table to the first or last timestep', () => {
    expect(discretization.sigmaToTimestep(0.001)).toBe(0);
    expect(discretization.sigmaToTimestep(0)).toBe(0);
    expect(discretization.sigmaToTimestep(100)).toBe(999);
    expect(() => discretization.timestepToSigma(1000)).toThrow(/outside 0 … 999/);
  });
});

describe('denoiser scalings', () => {
  // Build a UNet's exact target from a known x0 and ε, and check D recovers x0 from it.
  const x0 = 0.7;
  const eps = -1.3;

  test.each([0.03, 1, 14.6])('epsilon at σ = %d: D = x − σ·ε̂ recovers x0', (sigma) => {
    const { cSkip, cOut, cIn } = denoiserScalings('epsilon', sigma);
    const x = x0 + sigma * eps;
    expect(cSkip * x + cOut * eps).toBeCloseTo(x0, 12);
    // c_in·x is the VP-scaled training input √ᾱ·x0 + √(1 − ᾱ)·ε, with ᾱ = 1/(1 + σ²).
    const alphaBar = 1 / (1 + sigma * sigma);
    expect(cIn * x).toBeCloseTo(Math.sqrt(alphaBar) * x0 + Math.sqrt(1 - alphaBar) * eps, 12);
  });

  test.each([0.03, 1, 14.6])('v_prediction at σ = %d: D = c_skip·x + c_out·v recovers x0', (sigma) => {
    const { cSkip, cOut, cIn } = denoiserScalings('v_prediction', sigma);
    const alphaBar = 1 / (1 + sigma * sigma);
    const v = Math.sqrt(alphaBar) * eps - Math.sqrt(1 - alphaBar) * x0;
    const x = x0 + sigma * eps;
    expect(cSkip * x + cOut * v).toBeCloseTo(x0, 12);
    expect(cIn).toBeCloseTo(Math.sqrt(alphaBar), 12);
  });
});
