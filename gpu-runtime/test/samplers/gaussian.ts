import type { Denoiser } from '../../src/samplers/index.js';

/**
 * A data set whose ideal denoiser and probability-flow ODE are known in closed form: element j
 * of the data is N(mean[j], s²) independently. Then
 *   D(x, σ) = (s²·x + σ²·μ)/(s² + σ²)                                   (the posterior mean)
 *   x(σ)    = μ + (x(σ_T) − μ)·√(s² + σ²)/√(s² + σ_T²)                  (the ODE's exact path)
 * and the marginal at σ is N(μ, s² + σ²), so an exact stochastic sampler ends at N(μ, s²).
 */
export class GaussianData {
  constructor(
    readonly mean: Float64Array,
    readonly s: number,
  ) {}

  static withPattern(length: number, s: number): GaussianData {
    return new GaussianData(Float64Array.from({ length }, (_, j) => Math.sin(0.37 * j) * 0.8), s);
  }

  /** The ideal denoiser; `calls` counts its evaluations. */
  denoiser(): Denoiser & { calls: number[] } {
    const calls: number[] = [];
    const s2 = this.s * this.s;
    const denoise = async (x: Float32Array, sigma: number) => {
      calls.push(sigma);
      const out = new Float32Array(x.length);
      for (let j = 0; j < x.length; j++) out[j] = (s2 * x[j] + sigma * sigma * this.mean[j % this.mean.length]) / (s2 + sigma * sigma);
      return out;
    };
    return Object.assign(denoise, { calls });
  }

  /** A sample of the marginal at σ_T from standard normals z. */
  noisy(z: Float32Array, sigmaT: number): Float32Array {
    const scale = Math.sqrt(this.s ** 2 + sigmaT ** 2);
    return z.map((zj, j) => this.mean[j % this.mean.length] + scale * zj);
  }

  /** Where the probability-flow ODE takes xT (at σ_T) by σ. */
  odeSolution(xT: Float32Array, sigmaT: number, sigma: number): Float64Array {
    const ratio = Math.sqrt(this.s ** 2 + sigma ** 2) / Math.sqrt(this.s ** 2 + sigmaT ** 2);
    return Float64Array.from(xT, (xj, j) => this.mean[j % this.mean.length] + (xj - this.mean[j % this.mean.length]) * ratio);
  }

  /** Mean and variance of x − μ over all elements. */
  residualMoments(x: Float32Array): { mean: number; variance: number } {
    let sum = 0;
    let sumSquares = 0;
    for (let j = 0; j < x.length; j++) {
      const r = x[j] - this.mean[j % this.mean.length];
      sum += r;
      sumSquares += r * r;
    }
    const mean = sum / x.length;
    return { mean, variance: sumSquares / x.length - mean * mean };
  }
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j] - b[j]));
  return max;
}
