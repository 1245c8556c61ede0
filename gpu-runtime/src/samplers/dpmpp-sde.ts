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
 *
 * The two stages' noises are increments of one Brownian motion W in σ, as k-diffusion's
 * BrownianTreeNoiseSampler gives: stage 1 uses W over [σ_mid, σ], stage 2 over [σ_next, σ], which
 * contains it. From two independent draws z0 (over [σ_mid, σ]) and z1 (over [σ_next, σ_mid]),
 * stage 2's normalised increment is √((σ−σ_mid)/(σ−σ_next))·z0 + √((σ_mid−σ_next)/(σ−σ_next))·z1.
 * Drawing them independently instead biases the result: measured, the output variance falls ~15%
 * short at 40 steps on Gaussian data (exact with the shared increment).
 *
 * The last step, to σ = 0, is a plain Euler step, as in k-diffusion.
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
    const z0 = ctx.noise(i, 0);
    for (let j = 0; j < x.length; j++) {
      midpoint[j] = denoised[j] + midRatio * (x[j] - denoised[j]) + toMid.sigmaUp * z0[j];
    }
    const denoisedMid = await denoise(midpoint, sigmaMid);

    const toNext = ancestralStep(sigma, sigmaNext);
    const ratio = toNext.sigmaDown / sigma;
    const z1 = ctx.noise(i, 1);
    const w0 = Math.sqrt((sigma - sigmaMid) / (sigma - sigmaNext));
    const w1 = Math.sqrt((sigmaMid - sigmaNext) / (sigma - sigmaNext));
    for (let j = 0; j < x.length; j++) {
      x[j] = denoisedMid[j] + ratio * (x[j] - denoisedMid[j]) + toNext.sigmaUp * (w0 * z0[j] + w1 * z1[j]);
    }
    return denoisedMid;
  });
  return x;
};
