import { ancestralStep, forEachStep, type Denoiser, type Sampler } from './sampling.js';

/**
 * DPM-Solver-2 in k-diffusion's form (sample_dpm_2, sample_dpm_2_ancestral): a midpoint method in
 * log σ. The slope d = (x − D)/σ at σ takes x to σ_mid = √(σ·σ_target); the slope there takes x
 * from σ all the way to σ_target. Two model calls per step. A1111 runs both with the schedule's
 * next-to-last sigma dropped (see the sampler table).
 */

/** DPM2: the target is σ_next. */
export const dpm2: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const midpoint = new Float32Array(x.length);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    return midpointStep(denoise, x, midpoint, sigma, sigmaNext);
  });
  return x;
};

/** DPM2 a: the target is σ_down, then noise of standard deviation σ_up, as Euler a. */
export const dpm2Ancestral: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const midpoint = new Float32Array(x.length);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmaNext);
    const denoisedMid = await midpointStep(denoise, x, midpoint, sigma, sigmaDown);
    const noise = ctx.noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) x[j] += sigmaUp * noise[j];
    return denoisedMid;
  });
  return x;
};

async function midpointStep(
  denoise: Denoiser,
  x: Float32Array,
  midpoint: Float32Array,
  sigma: number,
  target: number,
): Promise<Float32Array> {
  const denoised = await denoise(x, sigma);
  const sigmaMid = Math.exp((Math.log(sigma) + Math.log(target)) / 2);
  for (let j = 0; j < x.length; j++) midpoint[j] = x[j] + ((x[j] - denoised[j]) / sigma) * (sigmaMid - sigma);
  const denoisedMid = await denoise(midpoint, sigmaMid);
  for (let j = 0; j < x.length; j++) x[j] += ((midpoint[j] - denoisedMid[j]) / sigmaMid) * (target - sigma);
  return denoisedMid;
}
