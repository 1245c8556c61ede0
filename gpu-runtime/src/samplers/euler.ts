import { ancestralStep, forEachStep, type Sampler } from './sampling.js';

/**
 * Euler's method on the probability-flow ODE dx/dσ = (x − D(x, σ))/σ (Karras et al. 2022, alg. 1
 * without churn). The step x + (x − D)/σ·(σ_next − σ) is written as the blend
 * D + (σ_next/σ)·(x − D), which is the same number.
 */
export const euler: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const ratio = sigmaNext / sigma;
    for (let j = 0; j < x.length; j++) x[j] = denoised[j] + ratio * (x[j] - denoised[j]);
    return denoised;
  });
  return x;
};

/**
 * Euler ancestral ("Euler a"): an Euler step down to σ_down, then fresh noise back up to σ_next
 * (see ancestralStep). The noise keeps the sample on the data distribution rather than on one
 * ODE path, so results vary more with the step count than Euler's.
 */
export const eulerAncestral: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    const ratio = sigmaDown / sigma;
    const noise = ctx.noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) x[j] = denoised[j] + ratio * (x[j] - denoised[j]) + sigmaUp * noise[j];
    return denoised;
  });
  return x;
};

/**
 * DDIM with η = 0 (Song et al. 2021). Its update, "predicted x0 plus the direction pointing to
 * x_t", reads in this variable x_next = D + σ_next·(x − D)/σ: exactly Euler's step above (Karras
 * et al. 2022, §3), so DDIM is Euler, as in ComfyUI. A1111's DDIM differs only by visiting its own
 * integer timesteps; here the chosen schedule decides the timesteps for every sampler.
 */
export const ddim: Sampler = euler;
