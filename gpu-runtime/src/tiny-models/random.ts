/**
 * A small seeded generator for model weights: the same seed writes byte-identical models on every
 * machine, so tests and benchmarks can rely on fixed numbers. (Not the pipeline's noise generator.)
 */
export class WeightRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** mulberry32: 32-bit state, passes the usual statistical batteries, plenty for weights. */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Box-Muller; one normal per pair of uniforms keeps the stream easy to reason about. */
  normal(count: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const u = 1 - this.uniform();
      out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
    }
    return out;
  }
}
