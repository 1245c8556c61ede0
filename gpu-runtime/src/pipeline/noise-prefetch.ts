/**
 * The samplers' per-step noise, drawn ahead of time while the UNet runs. onnxruntime computes on
 * its own threads and leaves the JS thread idle during `session.run`; seeded noise for a 128×128
 * latent costs milliseconds, so drawing the next draw in that idle time takes it off the loop's
 * path.
 *
 * The draws are the generator's, in its order: prefetching changes when a draw is made, never
 * which. At most one draw is held; a sampler that asks before it is ready gets it on the spot.
 */
import type { NoiseSource } from '../samplers/index.js';

export class NoisePrefetcher {
  private pending: Float32Array | undefined;

  /** @param draw the generator's next draw for the batch (ImageNoise.next). */
  constructor(private readonly draw: () => Float32Array) {}

  /** What the sampler calls: the next draw, whatever the sigmas. */
  readonly source: NoiseSource = () => {
    const noise = this.pending ?? this.draw();
    this.pending = undefined;
    return noise;
  };

  /** Makes the next draw now, unless one is waiting. Called while the model runs. */
  prefetch(): void {
    this.pending ??= this.draw();
  }
}
