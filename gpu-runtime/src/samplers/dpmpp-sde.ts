import { ancestralStep, forEachStep, type Sampler } from './sampling.js';

/**
 * DPM++ SDE (k-diffusion's sample_dpmpp_sde with η = 1, r = 1/2): a stochastic second-order
 * DPM-Solver++ step in two stages, two model calls per step. In time t = −log σ:
 *
 *   1. from x, ancestrally to the midpoint σ_mid = √(σ·σ_next) (t + h/2), and denoise there: D_mid;
 *   2. from x again, ancestrally to σ_next, moving towards D_mid. (k-diffusion's blend
 *      (1 − 1/2r)·D + (1/2r)·D_mid is D_mid alone at r = 1/2.)
 *
 * Each stage's move to σ_down is the exact DPM-Solver++ 1 update x·σ_down/σ + (1 − σ_down/σ)·D.
 * The noises are increments of one Brownian motion, over [σ_mid, σ] and over [σ_next, σ], which
 * contains it: the noise source (a Brownian tree) gives them consistently.
 */
export const dpmppSde: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const midpoint = new Float32Array(x.length);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const sigmaMid = Math.sqrt(sigma * sigmaNext);

    const toMid = ancestralStep(sigma, sigmaMid);
    const midRatio = toMid.sigmaDown / sigma;
    const z0 = ctx.noise(sigma, sigmaMid);
    for (let j = 0; j < x.length; j++) {
      midpoint[j] = denoised[j] + midRatio * (x[j] - denoised[j]) + toMid.sigmaUp * z0[j];
    }
    const denoisedMid = await denoise(midpoint, sigmaMid);

    const toNext = ancestralStep(sigma, sigmaNext);
    const ratio = toNext.sigmaDown / sigma;
    const z1 = ctx.noise(sigma, sigmaNext);
    for (let j = 0; j < x.length; j++) {
      x[j] = denoisedMid[j] + ratio * (x[j] - denoisedMid[j]) + toNext.sigmaUp * z1[j];
    }
    return denoisedMid;
  });
  return x;
};
