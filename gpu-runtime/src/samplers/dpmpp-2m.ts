import { forEachStep, type Sampler } from './sampling.js';

/**
 * The DPM-Solver++(2M) family (Lu et al. 2022, "DPM-Solver++", alg. 2), in k-diffusion's form.
 * Time is t = −log σ and h = t_next − t the step in it. The ODE is solved exactly for a denoised
 * value held constant over the step, and that value is extrapolated linearly from this step's and
 * the previous step's estimates ("multistep": second order at one model call per step).
 */

/** DPM++ 2M: x_next = (σ_next/σ)·x + (1 − e^(−h))·D', D' = (1 + 1/2r)·D − (1/2r)·D_prev, r = h_prev/h. */
export const dpmpp2m: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const previous = new Float32Array(x.length);
  let hPrevious = 0;
  await forEachStep(ctx, x, async (i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    if (sigmaNext === 0) {
      x.set(denoised);
      return denoised;
    }
    const h = Math.log(sigma / sigmaNext);
    const ratio = sigmaNext / sigma;
    const gain = -Math.expm1(-h);
    // The first step has no previous estimate: first order (DPM-Solver++ 1, i.e. DDIM).
    const weight = i === 0 ? 0 : 1 / (2 * (hPrevious / h));
    for (let j = 0; j < x.length; j++) {
      const extrapolated = (1 + weight) * denoised[j] - weight * previous[j];
      x[j] = ratio * x[j] + gain * extrapolated;
    }
    previous.set(denoised);
    hPrevious = h;
    return denoised;
  });
  return x;
};

/**
 * DPM++ 2M SDE (η = 1, midpoint correction; Lu et al. 2022, §5 and appendix; k-diffusion's
 * sample_dpmpp_2m_sde): the same multistep idea on the reverse SDE. Per step the deterministic
 * part shrinks x by (σ_next/σ)·e^(−h) = (σ_next/σ)², and fresh noise of standard deviation
 * σ_next·√(1 − e^(−2h)) puts back what the SDE injects.
 */
export const dpmpp2mSde: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const previous = new Float32Array(x.length);
  let hPrevious = 0;
  await forEachStep(ctx, x, async (i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    if (sigmaNext === 0) {
      x.set(denoised);
      return denoised;
    }
    const h = Math.log(sigma / sigmaNext);
    const decay = (sigmaNext / sigma) * Math.exp(-h);
    const gain = -Math.expm1(-2 * h);
    const correction = i === 0 ? 0 : 0.5 * gain * (h / hPrevious);
    const noiseScale = sigmaNext * Math.sqrt(gain);
    const noise = ctx.noise(i, 0);
    for (let j = 0; j < x.length; j++) {
      x[j] = decay * x[j] + gain * denoised[j] + correction * (denoised[j] - previous[j]) + noiseScale * noise[j];
    }
    previous.set(denoised);
    hPrevious = h;
    return denoised;
  });
  return x;
};
