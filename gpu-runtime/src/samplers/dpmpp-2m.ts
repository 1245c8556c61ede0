import type { NoiseSource } from './random/noise-sources.js';
import { forEachStep, type Sampler } from './sampling.js';

/**
 * The DPM-Solver++(2M) family (Lu et al. 2022, "DPM-Solver++", alg. 2), in k-diffusion's form.
 * Time is t = −log σ and h = t_next − t the step in it. The ODE is solved exactly for a denoised
 * value held constant over the step, and that value is extrapolated linearly from this step's and
 * the previous step's estimates ("multistep": second order at one model call per step).
 */

interface MultistepStep {
  x: Float32Array;
  denoised: Float32Array;
  /** The previous step's estimate; unset (zeros) on the first step. */
  previous: Float32Array;
  first: boolean;
  sigma: number;
  sigmaNext: number;
  h: number;
  hPrevious: number;
  noise: NoiseSource;
}

/** A sampler that updates x in place from this step's and the previous step's estimates. */
function multistep(update: (step: MultistepStep) => void): Sampler {
  return async (denoise, initial, ctx) => {
    const x = Float32Array.from(initial);
    const previous = new Float32Array(x.length);
    let hPrevious = 0;
    await forEachStep(ctx, x, denoise, async (i, sigma, sigmaNext) => {
      const denoised = await denoise(x, sigma);
      const h = Math.log(sigma / sigmaNext);
      update({ x, denoised, previous, first: i === 0, sigma, sigmaNext, h, hPrevious, noise: ctx.noise });
      previous.set(denoised);
      hPrevious = h;
      return denoised;
    });
    return x;
  };
}

/** DPM++ 2M: x_next = (σ_next/σ)·x + (1 − e^(−h))·D', D' = (1 + 1/2r)·D − (1/2r)·D_prev, r = h_prev/h. */
export const dpmpp2m = multistep(({ x, denoised, previous, first, sigma, sigmaNext, h, hPrevious }) => {
  const ratio = sigmaNext / sigma;
  const gain = -Math.expm1(-h);
  // The first step has no previous estimate: first order (DPM-Solver++ 1, i.e. DDIM).
  const weight = first ? 0 : 1 / (2 * (hPrevious / h));
  for (let j = 0; j < x.length; j++) {
    const extrapolated = (1 + weight) * denoised[j] - weight * previous[j];
    x[j] = ratio * x[j] + gain * extrapolated;
  }
});

/**
 * DPM++ 2M SDE (η = 1; Lu et al. 2022, §5 and appendix; k-diffusion's sample_dpmpp_2m_sde): the
 * same multistep idea on the reverse SDE. Per step the deterministic part shrinks x by
 * (σ_next/σ)·e^(−h) = (σ_next/σ)², and noise of standard deviation σ_next·√(1 − e^(−2h)) puts
 * back what the SDE injects. The correction from the previous estimate, k-diffusion's two
 * solver types, integrates its linear change over the step:
 *   midpoint ("DPM++ 2M SDE"):       ½·(1 − e^(−2h))·(h/h_prev)·(D − D_prev)
 *   heun     ("DPM++ 2M SDE Heun"):  (1 − (1 − e^(−2h))/2h)·(h/h_prev)·(D − D_prev)
 */
function dpmpp2mSdeWith(solver: 'midpoint' | 'heun'): Sampler {
  return multistep(({ x, denoised, previous, first, sigma, sigmaNext, h, hPrevious, noise }) => {
    const decay = (sigmaNext / sigma) * Math.exp(-h);
    const gain = -Math.expm1(-2 * h);
    const linear = solver === 'midpoint' ? 0.5 * gain : gain / (-2 * h) + 1;
    const correction = first ? 0 : linear * (h / hPrevious);
    const noiseScale = sigmaNext * Math.sqrt(gain);
    const z = noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) {
      x[j] = decay * x[j] + gain * denoised[j] + correction * (denoised[j] - previous[j]) + noiseScale * z[j];
    }
  });
}

export const dpmpp2mSde = dpmpp2mSdeWith('midpoint');
export const dpmpp2mSdeHeun = dpmpp2mSdeWith('heun');
