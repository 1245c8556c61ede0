import type { NoiseSource } from './random/noise-sources.js';

/**
 * What every sampler shares: its signature, the loop over adjacent sigmas with cancellation and
 * progress, and the ancestral split of a step.
 *
 * Samplers work in k-diffusion's variable x = x_t/√ᾱ_t, where a noise level is one number σ
 * and the data is x at σ = 0. They see the model only through the denoiser.
 */

/**
 * The model's denoised estimate D(x, σ) of x0, for the whole batch (the pipeline applies CFG and
 * the prediction-type scalings inside). It must not modify `x`. It may return the same buffer
 * on every call: samplers copy what they keep.
 */
export type Denoiser = (x: Float32Array, sigma: number) => Promise<Float32Array>;

/** Called after each step. `x` and `denoised` are only valid during the call: copy to keep. */
export type StepCallback = (step: number, x: Float32Array, denoised: Float32Array) => void | Promise<void>;

export interface SamplerContext {
  /** Decreasing noise levels, from where x starts down to the last (0 to finish clean). */
  sigmas: ArrayLike<number>;
  /**
   * Standard-normal noise for the whole batch, for a move from σ to σ_next: the generator's next
   * draw for ancestral samplers, a Brownian tree for the SDE samplers (random/noise-sources.ts).
   */
  noise: NoiseSource;
  /**
   * After step i (0-based) of sigmas.length − 1: the new x and the step's latest estimate of x0.
   * Awaited, so a slow callback slows sampling.
   */
  onStep?: StepCallback;
  /** Checked before each step; sampling stops with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
}

/** Runs the sigmas from x (not modified) and returns the result. */
export type Sampler = (denoise: Denoiser, x: Float32Array, ctx: SamplerContext) => Promise<Float32Array>;

/**
 * One step from σ to σ_next > 0; returns the step's latest estimate of x0 for the progress
 * callback.
 */
export type Step = (i: number, sigma: number, sigmaNext: number) => Promise<Float32Array>;

export interface StepOptions {
  /** The sampler takes the last step, to σ = 0, itself (LMS, whose update is not the estimate). */
  ownLastStep?: boolean;
  /** The (σ, σ_next) moves to make, when they are not the adjacent sigmas (Restart). */
  moves?: readonly (readonly [number, number])[];
}

/**
 * Runs the steps: checks the sigmas, the signal before each step, reports progress after it. A
 * step to σ = 0 is x = D(x, σ), where every k-diffusion update lands as σ_next → 0, so the
 * samplers need not guard against dividing by σ_next or taking log 0.
 */
export async function forEachStep(ctx: SamplerContext, x: Float32Array, denoise: Denoiser, step: Step, options: StepOptions = {}): Promise<void> {
  const { sigmas, signal, onStep } = ctx;
  checkSigmas(sigmas);
  const moves = options.moves ?? Array.from({ length: sigmas.length - 1 }, (_, i) => [sigmas[i], sigmas[i + 1]] as const);
  for (const [i, [sigma, sigmaNext]] of moves.entries()) {
    signal?.throwIfAborted();
    let denoised: Float32Array;
    if (sigmaNext === 0 && !options.ownLastStep) {
      denoised = await denoise(x, sigma);
      x.set(denoised);
    } else {
      denoised = await step(i, sigma, sigmaNext);
    }
    await onStep?.(i, x, denoised);
  }
}

export function checkSigmas(sigmas: ArrayLike<number>): void {
  if (sigmas.length < 2) throw new RangeError(`a sampler needs at least 2 sigmas, got ${sigmas.length}`);
  for (let i = 0; i < sigmas.length - 1; i++) {
    const [sigma, next] = [sigmas[i], sigmas[i + 1]];
    if (!(sigma > 0 && Number.isFinite(sigma) && next >= 0 && next < sigma)) {
      throw new RangeError(`sigmas must decrease from a finite positive value to 0 or more; got ${sigma} then ${next}`);
    }
  }
}

/**
 * Splits a step from σ to σ_next into a deterministic move down to σ_down and fresh noise of
 * standard deviation σ_up, with σ_down² + σ_up² = σ_next² (k-diffusion's get_ancestral_step, η = 1):
 * σ_up = σ_next·√(σ² − σ_next²)/σ, so σ_down = σ_next²/σ.
 */
export function ancestralStep(sigma: number, sigmaNext: number): { sigmaDown: number; sigmaUp: number } {
  const sigmaUp = Math.min(sigmaNext, Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2));
  return { sigmaDown: Math.sqrt(sigmaNext ** 2 - sigmaUp ** 2), sigmaUp };
}
