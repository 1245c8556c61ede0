import { forEachStep, type Sampler } from './sampling.js';

/**
 * LMS, the linear multistep method of k-diffusion's sample_lms (order 4): the slope
 * d = (x − D)/σ is kept for the last four steps, and x moves by the integral over [σ, σ_next] of
 * the polynomial through them, i.e. Σ_j c_j·d_j with c_j the integral of the Lagrange basis
 * polynomial of step j. The first steps use the slopes there are (orders 1, 2, 3).
 *
 * k-diffusion integrates numerically (scipy's quad); the integrand is a polynomial of degree
 * ≤ 3, which 2-point Gauss–Legendre integrates exactly. The last step, to σ = 0, is an LMS step
 * too, not the denoised estimate.
 */
const ORDER = 4;

export const lms: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const slopes: Float32Array[] = []; // latest last
  const visited: number[] = [];
  await forEachStep(
    ctx,
    x,
    denoise,
    async (_i, sigma, sigmaNext) => {
      const denoised = await denoise(x, sigma);
      const slope = slopes.length === ORDER ? slopes.shift()! : new Float32Array(x.length);
      for (let j = 0; j < x.length; j++) slope[j] = (x[j] - denoised[j]) / sigma;
      slopes.push(slope);
      visited.push(sigma);
      if (visited.length > ORDER) visited.shift();
      const coefficients = slopes.map((_, k) => lagrangeIntegral(visited, k, sigma, sigmaNext));
      for (let j = 0; j < x.length; j++) {
        let step = 0;
        for (let k = 0; k < slopes.length; k++) step += coefficients[k] * slopes[k][j];
        x[j] += step;
      }
      return denoised;
    },
    { ownLastStep: true },
  );
  return x;
};

/** ∫ from a to b of the Lagrange basis polynomial that is 1 at nodes[k] and 0 at the other nodes. */
function lagrangeIntegral(nodes: readonly number[], k: number, a: number, b: number): number {
  const basis = (tau: number) =>
    nodes.reduce((product, node, m) => (m === k ? product : (product * (tau - node)) / (nodes[k] - node)), 1);
  const [mid, half] = [(a + b) / 2, (b - a) / 2];
  const offset = half / Math.sqrt(3);
  return half * (basis(mid - offset) + basis(mid + offset));
}
