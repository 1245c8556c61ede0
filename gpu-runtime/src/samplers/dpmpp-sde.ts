import { ancestralStep, forEachStep, type Sampler } from './sampling.js';

/**
 * DPM++ SDE (k-diffusion's sample_dpmpp_sde with η = 1, r = 1/2): a stochastic second-order
 * DPM-Solver++ step in two stages, two model calls per step. In time t = −log σ, stage one goes
 * ancestrally to the midpoint σ_mid = √(σ·σ_next) (t + h/2) and denoises there; stage two goes
 * ancestrally from x to σ_next using that midpoint estimate. (k-diffusion's blend
 * (1 − 1/2r)·D + (1/2r)·D_mid is D_mid alone at r = 1/2.) Each stage's Euler-like move to σ_down
 * is the exact DPM-Solver++ 1 update x·σ_down/σ + (1 − σ_down/σ)·D. The last step, to σ = 0, is
 * a plain Euler step, as in k-diffusion.
 */
export const dpmppSde: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const midpoint = new Float32Array(x.length);
  await forEachStep(ctx, x, async (i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    if (sigmaNext === 0) {
      x.set(denoised);
      return denoised;
    }
    const sigmaMid = Math.sqrt(sigma * sigmaNext);

    const toMid = ancestralStep(sigma, sigmaMid);
    const midRatio = toMid.sigmaDown / sigma;
    const midNoise = ctx.noise(i, 0);
    for (let j = 0; j < x.length; j++) {
      midpoint[j] = denoised[j] + midRatio * (x[j] - denoised[j]) + toMid.sigmaUp * midNoise[j];
    }
    const denoisedMid = await denoise(midpoint, sigmaMid);

    const toNext = ancestralStep(sigma, sigmaNext);
    const ratio = toNext.sigmaDown / sigma;
    const noise = ctx.noise(i, 1);
    for (let j = 0; j < x.length; j++) {
      x[j] = denoisedMid[j] + ratio * (x[j] - denoisedMid[j]) + toNext.sigmaUp * noise[j];
    }
    return denoisedMid;
  });
  return x;
};
