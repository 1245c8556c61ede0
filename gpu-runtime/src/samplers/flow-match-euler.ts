import { forEachStep, type SamplerContext } from './sampling.js';

/**
 * The velocity a flow model predicts at x and noise level σ: v = ε − x0 for x = (1 − σ)·x0 + σ·ε,
 * for the whole batch. It must not modify x; it may reuse its output buffer.
 */
export type VelocityModel = (x: Float32Array, sigma: number) => Promise<Float32Array>;

/**
 * Euler on the flow ODE dx/dσ = v (diffusers' FlowMatchEulerDiscreteScheduler.step):
 *
 *   x_next = x + (σ_next − σ)·v
 *
 * One model call per step. The step's estimate of the clean image, x0 = x − σ·v, goes to onStep
 * for previews. (In k-diffusion's terms this is Euler with the denoiser D = x − σ·v, since
 * (x − D)/σ = v: the same ODE, written for a model that predicts velocity.) No noise is drawn:
 * ctx.noise is not used.
 */
export async function flowMatchEuler(velocity: VelocityModel, initial: Float32Array, ctx: Omit<SamplerContext, 'noise'>): Promise<Float32Array> {
  const x = Float32Array.from(initial);
  const denoised = new Float32Array(x.length);
  // x0 = x − σ·v; forEachStep takes the last step, to σ = 0, straight to it.
  const denoise = async (input: Float32Array, sigma: number) => {
    const v = await velocity(input, sigma);
    for (let j = 0; j < input.length; j++) denoised[j] = input[j] - sigma * v[j];
    return denoised;
  };
  await forEachStep({ ...ctx, noise: noNoise }, x, denoise, async (_i, sigma, sigmaNext) => {
    const v = await velocity(x, sigma);
    const dt = sigmaNext - sigma;
    for (let j = 0; j < x.length; j++) {
      denoised[j] = x[j] - sigma * v[j];
      x[j] += dt * v[j];
    }
    return denoised;
  });
  return x;
}

const noNoise = () => {
  throw new Error('flow-matching Euler draws no noise');
};
