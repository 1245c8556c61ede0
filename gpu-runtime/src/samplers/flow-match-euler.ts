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
    eulerStep(x, await velocity(x, sigma), denoised, sigma, sigmaNext);
    return denoised;
  });
  return x;
}

/** x0 = x − σ·v into `denoised`, then x += (σ_next − σ)·v; a plain function over locals, which V8 compiles to a tight loop. */
function eulerStep(x: Float32Array, v: Float32Array, denoised: Float32Array, sigma: number, sigmaNext: number): void {
  const dt = sigmaNext - sigma;
  const length = x.length;
  for (let j = 0; j < length; j++) {
    const xj = x[j];
    const vj = v[j];
    denoised[j] = xj - sigma * vj;
    x[j] = xj + dt * vj;
  }
}

const noNoise = () => {
  throw new Error('flow-matching Euler draws no noise');
};
