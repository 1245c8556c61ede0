import type { Architecture, ScheduleId } from '@easel/schema';
import { betaQuantile } from './beta-distribution.js';
import type { Discretization } from './discretization.js';

/**
 * Sigma schedules, A1111's "Schedule type" (modules/sd_schedulers.py): which noise levels a run
 * of `steps` steps visits, from the model's σ_max down. Each returns steps + 1 decreasing sigmas,
 * the last one 0 (KL Optimal excepted, as in A1111), as k-diffusion's get_sigmas_* do.
 */

/**
 * "Uniform", and what "Automatic" means for the samplers A1111 gives no schedule of their own
 * (k-diffusion's DiscreteSchedule.get_sigmas): timesteps evenly spaced from N−1 down to 0, each
 * mapped to its σ.
 */
export function uniformSigmas(discretization: Discretization, steps: number): Float64Array {
  const timesteps = linspace(discretization.maxTimestep, 0, steps);
  return appendZero(timesteps.map((t) => discretization.timestepToSigma(t)));
}

/**
 * A1111's "Normal": timesteps evenly spaced from t(σ_max) to t(σ_min). The same levels as Uniform
 * but for rounding, since those timesteps are N−1 and 0.
 */
export function normalSigmas(discretization: Discretization, steps: number): Float64Array {
  const start = discretization.sigmaToTimestep(discretization.sigmaMax);
  const end = discretization.sigmaToTimestep(discretization.sigmaMin);
  return appendZero(linspace(start, end, steps).map((t) => discretization.timestepToSigma(t)));
}

/** ComfyUI's and A1111's "Simple": every (N/steps)-th training sigma, from the top. */
export function simpleSigmas(discretization: Discretization, steps: number): Float64Array {
  const { sigmas } = discretization;
  const stride = sigmas.length / steps;
  return appendZero(Float64Array.from({ length: steps }, (_, i) => sigmas[sigmas.length - 1 - Math.floor(i * stride)]));
}

/** Polynomial in log σ (k-diffusion's get_sigmas_polyexponential); A1111 uses ρ = 1, i.e. exponential. */
export function polyexponentialSigmas(sigmaMin: number, sigmaMax: number, steps: number, rho = 1): Float64Array {
  const [logMin, logMax] = [Math.log(sigmaMin), Math.log(sigmaMax)];
  return appendZero(linspace(1, 0, steps).map((ramp) => Math.exp(ramp ** rho * (logMax - logMin) + logMin)));
}

/**
 * "Beta" (Lee et al. 2024, "Beta Sampling is All You Need"): σ_min + q·(σ_max − σ_min), q the
 * Beta(α, β) quantiles of 1 − linspace(0, 1, steps); A1111's defaults α = β = 0.6 put more steps
 * at both ends.
 */
export function betaSigmas(sigmaMin: number, sigmaMax: number, steps: number, alpha = 0.6, beta = 0.6): Float64Array {
  return appendZero(linspace(0, 1, steps).map((p) => sigmaMin + betaQuantile(1 - p, alpha, beta) * (sigmaMax - sigmaMin)));
}

/**
 * "KL Optimal" (Sabour et al. 2024, "Align Your Steps", the KL-optimal closed form): evenly spaced
 * in arctan σ, from σ_max to σ_min. A1111 returns steps + 1 such values, so the last is σ_min, not 0.
 */
export function klOptimalSigmas(sigmaMin: number, sigmaMax: number, steps: number): Float64Array {
  const [alphaMin, alphaMax] = [Math.atan(sigmaMin), Math.atan(sigmaMax)];
  return Float64Array.from({ length: steps + 1 }, (_, i) => Math.tan((i / steps) * alphaMin + (1 - i / steps) * alphaMax));
}

/**
 * "Align Your Steps" (Sabour et al. 2024): NVIDIA's optimised sigmas for SD 1.5 and for SDXL,
 * log-linearly interpolated to other step counts. It starts at 14.615, not the model's σ_max.
 */
const ALIGN_YOUR_STEPS: Record<'sd1' | 'sdxl', readonly number[]> = {
  sd1: [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029],
  sdxl: [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.38, 0.234, 0.113, 0.029],
};

export function alignYourStepsSigmas(architecture: 'sd1' | 'sdxl', steps: number): Float64Array {
  const table = ALIGN_YOUR_STEPS[architecture];
  // As A1111: the table's 11 values become `steps` values (then 0), the table itself at 11 steps.
  if (steps === table.length) return appendZero(Float64Array.from(table));
  const logs = table.map(Math.log).reverse(); // increasing
  const position = (i: number) => (steps === 1 ? 0 : i / (steps - 1)) * (logs.length - 1);
  const interpolated = Float64Array.from({ length: steps }, (_, i) => {
    const at = position(i);
    const low = Math.min(Math.floor(at), logs.length - 2);
    return Math.exp(logs[low] + (at - low) * (logs[low + 1] - logs[low]));
  });
  return appendZero(interpolated.reverse());
}

/**
 * Karras et al. 2022, eq. 5: evenly spaced in σ^(1/ρ) with ρ = 7, which spends more steps at low
 * noise than the normal schedule does.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number, rho = 7): Float64Array {
  const maxInvRho = sigmaMax ** (1 / rho);
  const minInvRho = sigmaMin ** (1 / rho);
  return appendZero(linspace(0, 1, steps).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho));
}

/** Evenly spaced in log σ (k-diffusion's get_sigmas_exponential). */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, steps: number): Float64Array {
  return appendZero(linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map(Math.exp));
}

/**
 * A1111's and ComfyUI's "SGM Uniform", the spacing SDXL's reference sampler (sgm) uses: steps + 1
 * timesteps evenly spaced from t(σ_max) to t(σ_min), the last one dropped in favour of σ = 0.
 */
export function sgmUniformSigmas(discretization: Discretization, steps: number): Float64Array {
  const start = discretization.sigmaToTimestep(discretization.sigmaMax);
  const end = discretization.sigmaToTimestep(discretization.sigmaMin);
  const timesteps = linspace(start, end, steps + 1).subarray(0, steps);
  return appendZero(timesteps.map((t) => discretization.timestepToSigma(t)));
}

/**
 * The `steps + 1` sigmas of `schedule` for a model. `architecture` picks Align Your Steps' table
 * (SD 1.x's unless SDXL).
 */
export function getSigmas(schedule: ScheduleId, discretization: Discretization, steps: number, architecture: Architecture = 'sd1'): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be a whole number of at least 1, got ${steps}`);
  }
  const { sigmaMin, sigmaMax } = discretization;
  switch (schedule) {
    case 'uniform':
      return uniformSigmas(discretization, steps);
    case 'normal':
      return normalSigmas(discretization, steps);
    case 'simple':
      return simpleSigmas(discretization, steps);
    case 'polyexponential':
      return polyexponentialSigmas(sigmaMin, sigmaMax, steps);
    case 'beta':
      return betaSigmas(sigmaMin, sigmaMax, steps);
    case 'kl_optimal':
      return klOptimalSigmas(sigmaMin, sigmaMax, steps);
    case 'align_your_steps':
      return alignYourStepsSigmas(architecture === 'sdxl' ? 'sdxl' : 'sd1', steps);
    case 'karras':
      return karrasSigmas(sigmaMin, sigmaMax, steps);
    case 'exponential':
      return exponentialSigmas(sigmaMin, sigmaMax, steps);
    case 'sgm_uniform':
      return sgmUniformSigmas(discretization, steps);
    default:
      throw new RangeError(`unknown sigma schedule "${String(schedule)}"`);
  }
}

/** n evenly spaced values from start to end inclusive; just [start] when n = 1, as torch.linspace. */
function linspace(start: number, end: number, n: number): Float64Array {
  if (n === 1) return Float64Array.of(start);
  return Float64Array.from({ length: n }, (_, i) => start + ((end - start) * i) / (n - 1));
}

function appendZero(sigmas: Float64Array): Float64Array {
  const out = new Float64Array(sigmas.length + 1);
  out.set(sigmas);
  return out;
}
