import { heunStepper } from './heun.js';
import { checkSigmas, forEachStep, type Sampler } from './sampling.js';
import { karrasSigmas } from './schedules.js';

/**
 * Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes"), as
 * A1111 runs it (modules/sd_samplers_extra.py, restart_sampler, with its automatic restart list):
 * Heun steps down a Karras schedule, and at the step nearest σ = 0.1 the sample is noised back up
 * to the level nearest σ = 2 and walked down again (K times), which contracts the errors the
 * first pass accumulated. The noise of a restart, √(σ_high² − σ_low²)·z, is the generator's next
 * draw, as in A1111.
 *
 * With n ≥ 20 steps (fewer run plain Heun over the schedule given): restart segments of
 * m = 9 steps once, or m = ⌊n/4⌋ steps twice from 36 steps on; the main pass is a Karras schedule
 * of n − m·K steps between the given schedule's largest and smallest positive sigma. Every move
 * counts as one step, so there are n in all.
 */
export const restart: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const heunStep = heunStepper(denoise, x);
  checkSigmas(ctx.sigmas);
  const moves = restartMoves(ctx.sigmas);
  let lastSigma = moves[0][0];
  await forEachStep(
    ctx,
    x,
    denoise,
    async (_i, sigma, sigmaNext) => {
      if (lastSigma < sigma) {
        const noise = ctx.noise(lastSigma, sigma);
        const scale = Math.sqrt(sigma ** 2 - lastSigma ** 2);
        for (let j = 0; j < x.length; j++) x[j] += scale * noise[j];
      }
      lastSigma = sigmaNext;
      return heunStep(sigma, sigmaNext);
    },
    { moves },
  );
  return x;
};

/** The (σ, σ_next) moves of a restart run over `sigmas` (steps + 1 values ending in 0). */
export function restartMoves(sigmas: ArrayLike<number>): [number, number][] {
  let schedule = Array.from(sigmas);
  const steps = schedule.length - 1;
  let restartAt: { steps: number; times: number } | undefined;
  if (steps >= 20) {
    const [restartSteps, times] = steps >= 36 ? [Math.floor(steps / 4), 2] : [9, 1];
    schedule = Array.from(karrasSigmas(schedule[schedule.length - 2], schedule[0], steps - restartSteps * times));
    restartAt = { steps: restartSteps + 1, times };
  }
  const nearest = (value: number) => schedule.reduce((best, sigma, i) => (Math.abs(sigma - value) < Math.abs(schedule[best] - value) ? i : best), 0);
  const low = restartAt ? nearest(0.1) : -1;
  const moves: [number, number][] = [];
  for (let i = 0; i + 1 < schedule.length; i++) {
    moves.push([schedule[i], schedule[i + 1]]);
    if (restartAt && i + 1 === low) {
      const high = nearest(2);
      if (high < low) {
        const restartSigmas = Array.from(karrasSigmas(schedule[low], schedule[high], restartAt.steps)).slice(0, -1);
        for (let k = 0; k < restartAt.times; k++) {
          for (let j = 0; j + 1 < restartSigmas.length; j++) moves.push([restartSigmas[j], restartSigmas[j + 1]]);
        }
      }
    }
  }
  return moves;
}
