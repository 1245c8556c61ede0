import { forEachStep, type Sampler } from './sampling.js';

/**
 * LCM's multistep sampling (Luo et al. 2023, alg. 1; k-diffusion's sample_lcm): a consistency
 * model maps any noisy x straight to x0, so each step takes the model's x0 and noises it afresh
 * to the next level, x_next = D + σ_next·z. Meant for LCM-distilled models (or LoRAs) at 4–8 steps.
 */
export const lcm: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const noise = ctx.noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) x[j] = denoised[j] + sigmaNext * noise[j];
    return denoised;
  });
  return x;
};
