import { forEachStep, type Denoiser, type Sampler } from './sampling.js';

/**
 * Heun's method (Karras et al. 2022, alg. 1 without churn): an Euler step to σ_next, a second
 * derivative there, and the step redone with the average of the two slopes: second order, at
 * two model calls per step. The last step, to σ = 0 where the slope is undefined, stays Euler.
 */
export const heun: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const step = heunStepper(denoise, x);
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => step(sigma, sigmaNext));
  return x;
};

/** Heun steps on x in place (σ_next > 0), with their scratch buffers; each returns D at σ_next. */
export function heunStepper(denoise: Denoiser, x: Float32Array): (sigma: number, sigmaNext: number) => Promise<Float32Array> {
  const slope = new Float32Array(x.length);
  const predicted = new Float32Array(x.length);
  return async (sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const dt = sigmaNext - sigma;
    for (let j = 0; j < x.length; j++) {
      slope[j] = (x[j] - denoised[j]) / sigma;
      predicted[j] = x[j] + slope[j] * dt;
    }
    const denoisedNext = await denoise(predicted, sigmaNext);
    for (let j = 0; j < x.length; j++) {
      const slopeNext = (predicted[j] - denoisedNext[j]) / sigmaNext;
      x[j] += 0.5 * (slope[j] + slopeNext) * dt;
    }
    return denoisedNext;
  };
}
