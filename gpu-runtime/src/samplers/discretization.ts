import type { PredictionType, SchedulerConfig } from './scheduler-config.js';

/**
 * A model's noise levels: the σ of each of its N training timesteps, as k-diffusion's
 * DiscreteSchedule holds them. With ᾱ_t = ∏_{s≤t} (1 − β_s), the training input x_t = √ᾱ_t·x0 +
 * √(1−ᾱ_t)·ε is, divided by √ᾱ_t, x0 + σ_t·ε with σ_t = √((1 − ᾱ_t)/ᾱ_t). Samplers work on
 * that variable; this class maps σ back to the (fractional) timestep the UNet was trained on.
 */
export class Discretization {
  /** σ_t for t = 0 … N−1, increasing. */
  readonly sigmas: Float64Array;
  private readonly logSigmas: Float64Array;

  constructor(
    alphasCumprod: ArrayLike<number>,
    readonly predictionType: PredictionType,
  ) {
    this.sigmas = Float64Array.from(alphasCumprod, (alphaBar) => Math.sqrt((1 - alphaBar) / alphaBar));
    this.logSigmas = this.sigmas.map(Math.log);
  }

  static fromConfig(config: SchedulerConfig): Discretization {
    const alphasCumprod = new Float64Array(config.betas.length);
    let product = 1;
    config.betas.forEach((beta, t) => (alphasCumprod[t] = product *= 1 - beta));
    return new Discretization(alphasCumprod, config.predictionType);
  }

  get sigmaMin(): number {
    return this.sigmas[0];
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1];
  }

  /** The largest timestep, N − 1. */
  get maxTimestep(): number {
    return this.sigmas.length - 1;
  }

  /**
   * The fractional timestep of a σ: linear interpolation in log σ between the two neighbouring
   * training timesteps, clamped to [0, N−1] (k-diffusion's sigma_to_t).
   */
  sigmaToTimestep(sigma: number): number {
    const logSigma = Math.log(sigma);
    const low = this.lastIndexAtOrBelow(logSigma);
    const logLow = this.logSigmas[low];
    const logHigh = this.logSigmas[low + 1];
    const w = Math.min(1, Math.max(0, (logLow - logSigma) / (logLow - logHigh)));
    return low + w;
  }

  /** σ at a fractional timestep, interpolating log σ (k-diffusion's t_to_sigma). */
  timestepToSigma(t: number): number {
    if (!(t >= 0 && t <= this.maxTimestep)) throw new RangeError(`timestep ${t} is outside 0 … ${this.maxTimestep}`);
    const low = Math.floor(t);
    const high = Math.ceil(t);
    const w = t - low;
    return Math.exp((1 - w) * this.logSigmas[low] + w * this.logSigmas[high]);
  }

  /** The last index t in 0 … N−2 with log σ_t ≤ logSigma (0 when there is none). */
  private lastIndexAtOrBelow(logSigma: number): number {
    let lo = 0;
    let hi = this.logSigmas.length - 2;
    if (!(this.logSigmas[0] <= logSigma)) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.logSigmas[mid] <= logSigma) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
