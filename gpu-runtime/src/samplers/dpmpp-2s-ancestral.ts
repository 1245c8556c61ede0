import { ancestralStep, forEachStep, type Sampler } from './sampling.js';

/**
 * DPM++ 2S a (k-diffusion's sample_dpmpp_2s_ancestral, η = 1): a single-step second-order
 * DPM-Solver++ move down to σ_down, through the midpoint in t = −log σ (r = ½), then fresh noise
 * of standard deviation σ_up back to σ_next, as Euler a does. Two model calls per step.
 *
 *   s = t + h/2:   x_mid = (σ_s/σ)·x + (1 − e^(−h/2))·D;   x = (σ_down/σ)·x + (1 − e^(−h))·D(x_mid, σ_s)
 */
export const dpmpp2sAncestral: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const midpoint = new Float32Array(x.length);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    const h = Math.log(sigma / sigmaDown);
    const sigmaMid = sigma * Math.exp(-h / 2);
    const midGain = -Math.expm1(-h / 2);
    for (let j = 0; j < x.length; j++) midpoint[j] = (sigmaMid / sigma) * x[j] + midGain * denoised[j];
    const denoisedMid = await denoise(midpoint, sigmaMid);
    const gain = -Math.expm1(-h);
    const noise = ctx.noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) x[j] = (sigmaDown / sigma) * x[j] + gain * denoisedMid[j] + sigmaUp * noise[j];
    return denoisedMid;
  });
  return x;
};
