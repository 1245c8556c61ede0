import { describe, expect, test } from 'vitest';
import { SAMPLER_NOISE, SAMPLERS, type SamplerId } from '@easel/schema';
import {
  ancestralStep,
  type Denoiser,
  exponentialSigmas,
  getSampler,
  ImageNoise,
  karrasSigmas,
  randn,
  samplerNoise,
} from '../../src/samplers/index.js';
import { GaussianData, maxAbsDifference } from './gaussian.js';

const SIGMA_MAX = 14.6146;
const SIGMA_MIN = 0.0292;
const STOCHASTIC = SAMPLERS.filter((id) => SAMPLER_NOISE[id] !== 'none');
const TWO_CALLS_PER_STEP: SamplerId[] = ['heun', 'dpm2', 'dpm2_a', 'dpmpp_2s_a', 'dpmpp_sde', 'restart'];

function standardNormals(length: number, seed: number): Float32Array {
  return randn({ seed, shape: [length], source: 'NV' });
}

/** A batch's initial noise (image i from seeds[i]) and the noise `id` draws after it, as the pipeline sets them up. */
function batchNoise(id: SamplerId, seeds: number[], perImage: number, sigmas: ArrayLike<number>) {
  const imageNoise = new ImageNoise({ source: 'NV', seeds, shape: [1, 1, perImage] });
  const initial = imageNoise.first();
  return { initial, noise: samplerNoise(SAMPLER_NOISE[id], imageNoise, sigmas) };
}

/** Runs sampler `id` from seeded noise at σ_max over `sigmas`. */
async function sample(id: SamplerId, denoise: Denoiser, seeds: number[], perImage: number, sigmas: ArrayLike<number>, start?: (z: Float32Array) => Float32Array) {
  const { initial, noise } = batchNoise(id, seeds, perImage, sigmas);
  const x = start ? start(initial) : initial.map((v) => v * sigmas[0]);
  return getSampler(id)(denoise, x, { sigmas, noise });
}

describe('deterministic samplers follow the probability-flow ODE', () => {
  const data = GaussianData.withPattern(64, 0.5);
  const z = standardNormals(64, 7);

  /** Max error against the exact ODE solution over σ_max → σ_min in `steps` log-even steps. */
  async function odeError(id: SamplerId, steps: number): Promise<number> {
    // Stop at σ_min rather than 0: the last step to 0 is first order in every sampler, which would hide the order.
    const toMin = exponentialSigmas(SIGMA_MIN, SIGMA_MAX, steps + 1).subarray(0, steps + 1);
    const xT = data.noisy(z, toMin[0]);
    const out = await getSampler(id)(data.denoiser(), xT, { sigmas: toMin, noise: batchNoise(id, [1], 64, toMin).noise });
    return maxAbsDifference(out, data.odeSolution(xT, toMin[0], toMin[toMin.length - 1]));
  }

  test.each([
    ['euler', 1],
    ['ddim', 1],
    ['heun', 2],
    ['dpmpp_2m', 2],
    ['dpm2', 2],
  ] as const)('%s converges at order %i', async (id, order) => {
    const errors = [await odeError(id, 20), await odeError(id, 40), await odeError(id, 80)];
    for (let k = 0; k + 1 < errors.length; k++) {
      const ratio = errors[k] / errors[k + 1];
      expect(ratio).toBeGreaterThan(0.85 * 2 ** order);
      expect(ratio).toBeLessThan(1.2 * 2 ** order);
    }
  });

  test('lms (order 4) gains more than a factor 8 per doubling of the steps, rising towards 16', async () => {
    // Its first three steps run at orders 1–3 (too few slopes yet), which holds the ratio below 16.
    const errors = [await odeError('lms', 20), await odeError('lms', 40), await odeError('lms', 80)];
    const ratios = [errors[0] / errors[1], errors[1] / errors[2]];
    expect(ratios[0]).toBeGreaterThan(8);
    expect(ratios[1]).toBeGreaterThan(ratios[0]);
    expect(ratios[1]).toBeLessThan(16 * 1.2);
  });

  test('on a 30-step Karras schedule to σ = 0 they land near the exact x(0), second order far nearer', async () => {
    const sigmas = karrasSigmas(SIGMA_MIN, SIGMA_MAX, 30);
    const xT = data.noisy(z, sigmas[0]);
    const exact = data.odeSolution(xT, sigmas[0], 0);
    const error = async (id: SamplerId) =>
      maxAbsDifference(await getSampler(id)(data.denoiser(), xT, { sigmas, noise: batchNoise(id, [1], 64, sigmas).noise }), exact);
    const eulerError = await error('euler');
    expect(eulerError).toBeLessThan(0.1);
    // The final step from σ_min to 0 is Euler in all of them: its error, ~|x − μ|·σ_min²/2s², remains.
    for (const id of ['heun', 'dpmpp_2m', 'dpm2', 'lms'] as const) {
      expect(await error(id)).toBeLessThan(0.01);
      expect(await error(id)).toBeLessThan(eulerError / 5);
    }
  });
});

describe('stochastic samplers end at the data distribution', () => {
  const n = 20_000;
  const s = 0.5;
  const data = GaussianData.withPattern(97, s);

  async function finalMoments(id: SamplerId, sigmas: Float64Array, denoise: Denoiser = data.denoiser(), seed = 3) {
    return data.residualMoments(await sample(id, denoise, [seed], n, sigmas, (z) => data.noisy(z, sigmas[0])));
  }

  test('Euler a matches the variance its own discretisation predicts, and tends to s² with more steps', async () => {
    // Euler a on Gaussian data is linear: x_next − μ = (a + r·(1 − a))·(x − μ) + σ_up·z with
    // a = s²/(s² + σ²) and r = σ_down/σ, so the variance follows exactly.
    const predicted = (sigmas: Float64Array) => {
      let variance = s * s + sigmas[0] ** 2;
      for (let i = 0; i + 1 < sigmas.length; i++) {
        const { sigmaDown, sigmaUp } = ancestralStep(sigmas[i], sigmas[i + 1]);
        const a = (s * s) / (s * s + sigmas[i] ** 2);
        variance = (a + (sigmaDown / sigmas[i]) * (1 - a)) ** 2 * variance + sigmaUp ** 2;
      }
      return variance;
    };
    const few = karrasSigmas(SIGMA_MIN, SIGMA_MAX, 10);
    const many = karrasSigmas(SIGMA_MIN, SIGMA_MAX, 80);
    const [momentsFew, momentsMany] = [await finalMoments('euler_a', few), await finalMoments('euler_a', many)];
    expect(Math.abs(momentsFew.variance / predicted(few) - 1)).toBeLessThan(0.04);
    expect(Math.abs(momentsMany.variance / predicted(many) - 1)).toBeLessThan(0.04);
    expect(Math.abs(momentsMany.variance / (s * s) - 1)).toBeLessThan(Math.abs(momentsFew.variance / (s * s) - 1));
    expect(Math.abs(momentsMany.mean)).toBeLessThan(0.02);
  });

  test.each(['dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde', 'dpmpp_sde', 'dpmpp_2s_a', 'dpm2_a', 'restart'] as const)('%s: mean μ and variance s² within 0.04 at 60 steps, closer than at 10', async (id) => {
    const few = await finalMoments(id, karrasSigmas(SIGMA_MIN, SIGMA_MAX, 10));
    const many = await finalMoments(id, karrasSigmas(SIGMA_MIN, SIGMA_MAX, 60));
    expect(Math.abs(many.mean)).toBeLessThan(0.02);
    expect(Math.abs(many.variance / (s * s) - 1)).toBeLessThan(0.04);
    expect(Math.abs(many.variance / (s * s) - 1)).toBeLessThan(Math.abs(few.variance / (s * s) - 1));
  });

  test('LCM with a consistency function is exact at any step count', async () => {
    // A consistency model maps x at σ to the end of its ODE path: μ + (x − μ)·s/√(s² + σ²).
    const consistency: Denoiser = async (x, sigma) =>
      x.map((xj, j) => data.mean[j % data.mean.length] + (xj - data.mean[j % data.mean.length]) * (s / Math.hypot(s, sigma)));
    for (const steps of [1, 4, 8]) {
      const moments = await finalMoments('lcm', karrasSigmas(SIGMA_MIN, SIGMA_MAX, steps), consistency);
      expect(Math.abs(moments.mean)).toBeLessThan(0.02);
      expect(Math.abs(moments.variance / (s * s) - 1)).toBeLessThan(0.04);
    }
  });
});

describe('SDE samplers refine one Brownian path as the steps grow', () => {
  const n = 4096;
  const data = GaussianData.withPattern(n, 0.5);
  const rms = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((sum, value, j) => sum + (value - b[j]) ** 2, 0) / n);

  // Issue 12: with fresh noise per step the images at 40 and 80 steps were unrelated (RMS change
  // ~0.77); on k-diffusion's Brownian tree they converge (0.06 → 0.01 from 20/40 to 40/80 steps).
  test.each(['dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde'] as const)(
    '%s: 40 → 80 steps changes the image far less than another seed does, and less than 20 → 40',
    async (id) => {
      const run = (steps: number, seed: number) =>
        sample(id, data.denoiser(), [seed], n, karrasSigmas(SIGMA_MIN, SIGMA_MAX, steps), (z) => data.noisy(z, SIGMA_MAX));
      const [at20, at40, at80, otherSeed] = [await run(20, 5), await run(40, 5), await run(80, 5), await run(80, 6)];
      const stepChange = rms(at40, at80);
      expect(stepChange).toBeLessThan(rms(at80, otherSeed) / 10);
      expect(stepChange).toBeLessThan(rms(at20, at40));
    },
  );
});

describe.each(SAMPLERS)('%s', (id) => {
  const sampler = getSampler(id);
  const perImage = 4 * 6 * 6;
  const sigmas = karrasSigmas(SIGMA_MIN, SIGMA_MAX, 6);
  const data = GaussianData.withPattern(perImage, 0.5);

  test('a data set of one point gives exactly that point', async () => {
    const target = Float32Array.from({ length: perImage }, (_, j) => Math.cos(j) * 1.7);
    const pointMass: Denoiser = async () => Float32Array.from(target);
    for (const schedule of [sigmas, exponentialSigmas(SIGMA_MIN, SIGMA_MAX, 3)]) {
      const out = await sample(id, pointMass, [9], perImage, schedule);
      // LMS's last step is its own polynomial step, exact up to rounding.
      if (id === 'lms') out.forEach((value, j) => expect(value).toBeCloseTo(target[j], 5));
      else expect(out).toEqual(target);
    }
  });

  test('is deterministic, leaves x alone, and copies what it keeps from the denoiser', async () => {
    const x = batchNoise(id, [21], perImage, sigmas).initial.map((v) => v * SIGMA_MAX);
    const before = Float32Array.from(x);
    const run = (denoise: Denoiser, seed = 21) => sampler(denoise, x, { sigmas, noise: batchNoise(id, [seed], perImage, sigmas).noise });
    const fresh = await run(data.denoiser());
    expect(x).toEqual(before);
    expect(await run(data.denoiser())).toEqual(fresh);
    // A denoiser that hands back one buffer every time, as a pipeline reusing its output does.
    const ideal = data.denoiser();
    const shared = new Float32Array(x.length);
    const reusing: Denoiser = async (input, sigma) => (shared.set(await ideal(input, sigma)), shared);
    expect(await run(reusing)).toEqual(fresh);
    // Restart adds noise only from 20 steps on (it restarts none below).
    if (STOCHASTIC.includes(id) && id !== 'restart') expect(await run(data.denoiser(), 22)).not.toEqual(fresh);
  });

  test('image i of a batch equals seed + i on its own', async () => {
    const seeds = [40, 41, 42];
    const batch = await sample(id, data.denoiser(), seeds, perImage, sigmas);
    for (const [i, seed] of seeds.entries()) {
      const alone = await sample(id, data.denoiser(), [seed], perImage, sigmas);
      expect(batch.subarray(i * perImage, (i + 1) * perImage)).toEqual(alone);
    }
  });

  test('reports every step once, whatever the number of model calls', async () => {
    const denoise = data.denoiser();
    const reported: number[] = [];
    await sampler(denoise, batchNoise(id, [1], perImage, sigmas).initial, {
      sigmas,
      noise: batchNoise(id, [1], perImage, sigmas).noise,
      onStep: (step, x, denoised) => {
        expect(x).toHaveLength(perImage);
        expect(denoised).toHaveLength(perImage);
        reported.push(step);
      },
    });
    expect(reported).toEqual([0, 1, 2, 3, 4, 5]);
    // Two-call samplers skip the second call on the last step, to σ = 0.
    expect(denoise.calls).toHaveLength(TWO_CALLS_PER_STEP.includes(id) ? 11 : 6);
    expect(denoise.calls[0]).toBe(sigmas[0]);
  });

  test('stops between steps when the signal aborts', async () => {
    const controller = new AbortController();
    const denoise = data.denoiser();
    const { initial, noise } = batchNoise(id, [1], perImage, sigmas);
    const run = sampler(denoise, initial, {
      sigmas,
      noise,
      signal: controller.signal,
      onStep: (step) => {
        if (step === 1) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(denoise.calls).toHaveLength(TWO_CALLS_PER_STEP.includes(id) ? 4 : 2);

    const never = data.denoiser();
    await expect(sampler(never, initial, { sigmas, noise, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(never.calls).toHaveLength(0);
  });

  test('rejects sigmas that do not decrease to 0 or more', async () => {
    const run = (bad: number[]) => sampler(data.denoiser(), new Float32Array(perImage), { sigmas: bad, noise: batchNoise(id, [1], perImage, [1, 0]).noise });
    await expect(run([1, 2, 0])).rejects.toThrow(/sigmas must decrease.*got 1 then 2/);
    await expect(run([1, -0.5])).rejects.toThrow(/sigmas must decrease/);
    await expect(run([5])).rejects.toThrow(/at least 2 sigmas/);
  });
});

test('getSampler knows every sampler id and names the unknown one', () => {
  for (const id of SAMPLERS) expect(getSampler(id)).toBeTypeOf('function');
  expect(() => getSampler('dpm_fast' as SamplerId)).toThrow(/unknown sampler "dpm_fast"/);
  expect(() => getSampler('toString' as SamplerId)).toThrow(/unknown sampler/);
});
