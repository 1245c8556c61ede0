import type { ScheduleId } from '@easel/schema';
import type { Discretization } from './discretization.js';

/**
 * Sigma schedules: which noise levels a run of `steps` steps visits, from the model's σ_max down.
 * Each returns steps + 1 decreasing sigmas, the last one 0, as k-diffusion's get_sigmas_* do.
 */

/**
 * A1111's "Automatic"/"Normal" for Stable Diffusion (k-diffusion's DiscreteSchedule.get_sigmas):
 * timesteps evenly spaced from N−1 down to 0, each mapped to its σ.
 */
export function normalSigmas(discretization: Discretization, steps: number): Float64Array {
  const timesteps = linspace(discretization.maxTimestep, 0, steps);
  return appendZero(timesteps.map((t) => discretization.timestepToSigma(t)));
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

/** The `steps + 1` sigmas of `schedule` for a model. */
export function getSigmas(schedule: ScheduleId, discretization: Discretization, steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be a whole number of at least 1, got ${steps}`);
  }
  switch (schedule) {
    case 'normal':
      return normalSigmas(discretization, steps);
    case 'karras':
      return karrasSigmas(discretization.sigmaMin, discretization.sigmaMax, steps);
    case 'exponential':
      return exponentialSigmas(discretization.sigmaMin, discretization.sigmaMax, steps);
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
