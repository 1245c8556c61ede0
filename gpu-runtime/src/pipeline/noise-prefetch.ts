/**
 * The samplers' per-step noise, drawn ahead of time while the UNet runs. onnxruntime computes on
 * its own threads and leaves the JS thread idle during `session.run`; seeded noise for a 64×64
 * latent costs about as much as everything else a step does outside the model, so drawing the
 * next step's noise in that idle time takes it off the loop's path.
 *
 * The values are exactly those of samplerNoise (same seeds, same streams): prefetching changes
 * when noise is drawn, never which. A request that was not foreseen is drawn on the spot.
 */
import { batchNoise, MAX_DRAWS_PER_STEP, samplerNoiseStream, type NoiseSource } from '../samplers/index.js';

interface DrawSlot {
  /** The buffer last handed to the sampler, which it may still be reading. */
  current: Float32Array;
  /** Free for the next step's noise, or already holding it. */
  next: Float32Array;
  /** Which step `next` holds, or -1. */
  nextStep: number;
  lastServedStep: number;
}

export class NoisePrefetcher {
  private readonly slots: (DrawSlot | undefined)[] = new Array(MAX_DRAWS_PER_STEP).fill(undefined);

  /**
   * @param lastNoisyStep the last step that may draw noise: samplers draw none on the final step
   *   to σ = 0, so there is no point in preparing it.
   */
  constructor(
    private readonly seeds: readonly number[],
    private readonly perImageLength: number,
    private readonly lastNoisyStep: number,
  ) {}

  /** What the sampler calls: the noise of (step, draw), valid until its next request for the same draw. */
  readonly source: NoiseSource = (step, draw) => {
    const slot = (this.slots[draw] ??= this.newSlot());
    if (slot.nextStep !== step) this.fill(slot.next, step, draw);
    [slot.current, slot.next] = [slot.next, slot.current];
    slot.nextStep = -1;
    slot.lastServedStep = step;
    return slot.current;
  };

  /**
   * Draws, for every draw the sampler has used so far, the noise its next step will ask for.
   * Called while the model runs.
   */
  prefetch(): void {
    this.slots.forEach((slot, draw) => {
      const step = slot ? slot.lastServedStep + 1 : -1;
      if (!slot || step > this.lastNoisyStep || slot.nextStep === step) return;
      this.fill(slot.next, step, draw);
      slot.nextStep = step;
    });
  }

  private newSlot(): DrawSlot {
    const size = this.seeds.length * this.perImageLength;
    return { current: new Float32Array(size), next: new Float32Array(size), nextStep: -1, lastServedStep: -1 };
  }

  private fill(buffer: Float32Array, step: number, draw: number): void {
    batchNoise(this.seeds, samplerNoiseStream(step, draw), this.perImageLength, buffer);
  }
}
