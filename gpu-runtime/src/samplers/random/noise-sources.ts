import type { SAMPLER_NOISE } from '@easel/schema';
import { BrownianTree } from './brownian-tree.js';
import type { ImageNoise } from './image-noise.js';

/**
 * The noise a sampler adds on its way from σ to σ_next, standard normal, for the whole batch
 * (k-diffusion's noise_sampler(sigma, sigma_next)). The array is the sampler's to read until its
 * next call.
 */
export type NoiseSource = (sigma: number, sigmaNext: number) => Float32Array;

/** A noise source that can do its next piece of work ahead of time (while the model runs). */
export type PrefetchingNoiseSource = NoiseSource & { prefetch?: () => void };

/**
 * The noise a sampler of the given kind draws (SAMPLER_NOISE) for a batch whose initial noise
 * came from `imageNoise`; `nextDraw` stands in for imageNoise.next() (to draw ahead of time).
 */
export function samplerNoise(
  kind: (typeof SAMPLER_NOISE)[keyof typeof SAMPLER_NOISE],
  imageNoise: ImageNoise,
  sigmas: ArrayLike<number>,
  nextDraw: NoiseSource = sequentialNoise(imageNoise),
): PrefetchingNoiseSource {
  switch (kind) {
    case 'sequential':
      return nextDraw;
    case 'brownian':
      return brownianNoise(imageNoise.seeds, imageNoise.perImage, sigmas);
    case 'none':
      return () => {
        throw new Error('this sampler adds no noise');
      };
  }
}

/**
 * A1111's noise for ancestral samplers: each call is the batch's next draw from its generators
 * (ImageNoise.next), whatever the sigmas; the initial noise must have been drawn first.
 */
export function sequentialNoise(noise: ImageNoise): NoiseSource {
  return () => noise.next();
}

/**
 * k-diffusion's BrownianTreeNoiseSampler as A1111 sets it up for the SDE samplers: one tree per
 * image, keyed by that image's seed, over [smallest positive σ, largest σ] of the schedule; a call
 * returns (W(σ_next) − W(σ))/√|σ − σ_next|. The last values of W are kept, since each step
 * starts where the previous one ended; `prefetch` computes W at the schedule's next level below
 * the last one asked for, which the next step will want.
 */
export function brownianNoise(seeds: readonly number[], perImage: number, sigmas: ArrayLike<number>): PrefetchingNoiseSource {
  const positive = Array.from(sigmas).filter((sigma) => sigma > 0);
  const [sigmaMin, sigmaMax] = [Math.min(...positive), Math.max(...positive)];
  // Built on first use: a schedule with one noise level (one step to 0) draws no noise.
  let trees: BrownianTree[] | undefined;
  const recent = new Map<number, Float64Array[]>();
  const at = (sigma: number) => {
    trees ??= seeds.map((seed) => new BrownianTree(seed, perImage, sigmaMin, sigmaMax));
    const values = recent.get(sigma) ?? trees.map((tree) => tree.at(sigma));
    recent.set(sigma, values);
    if (recent.size > 4) recent.delete(recent.keys().next().value!);
    return values;
  };
  const levels = [...new Set(positive)].sort((a, b) => b - a);
  let lowestAsked = Infinity;
  const prefetch = () => {
    const next = levels.find((sigma) => sigma < lowestAsked && !recent.has(sigma));
    if (next !== undefined) at(next);
  };
  const source: NoiseSource = (sigma, sigmaNext) => {
    lowestAsked = Math.min(lowestAsked, sigma, sigmaNext);
    const [from, to] = [at(sigma), at(sigmaNext)];
    const scale = 1 / Math.sqrt(Math.abs(sigma - sigmaNext));
    const out = new Float32Array(seeds.length * perImage);
    seeds.forEach((_, i) => {
      for (let j = 0; j < perImage; j++) out[i * perImage + j] = (to[i][j] - from[i][j]) * scale;
    });
    return out;
  };
  return Object.assign(source, { prefetch });
}
