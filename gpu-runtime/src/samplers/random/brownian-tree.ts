import { checkSeed } from './randn.js';
import { philoxNormals } from './nv.js';

/**
 * A Brownian motion W on [t0, t1] (one independent motion per latent value), fixed by a seed and
 * evaluable at any time in any order: the idea of torchsde's BrownianTree, which k-diffusion's
 * BrownianTreeNoiseSampler gives the SDE samplers. Because the path is fixed before any step is
 * taken, a run with more steps samples the same path more finely and refines the same image,
 * where fresh noise per step would give an unrelated one.
 *
 * Construction: W(t0) = 0 and W(t1) = √(t1 − t0)·z_root. Each node of a dyadic tree over
 * [t0, t1] holds the Brownian bridge at its interval's midpoint m, given the ends a and b:
 *
 *   W(m) = (W(a) + W(b))/2 + √((b − a)/4)·z_node
 *
 * down to LEAF_DEPTH levels; inside a leaf interval, W(t) is the bridge value
 * lerp + √((t − a)(b − t)/(b − a))·z_leaf, which passes through the leaf's midpoint value, so W
 * is continuous. z_node comes from Philox4x32-10 keyed by the seed, counter (node id, element,
 * BROWNIAN_STREAM), the node id being its heap index (root 1, children 2k and 2k + 1); a node's
 * values do not depend on which queries came before. (This is our own tree: it shares torchsde's
 * semantics, not its numbers.)
 */

/** Leaf intervals are (t1 − t0)/2^LEAF_DEPTH wide: far below any step a schedule takes. */
const LEAF_DEPTH = 20;
/** Counter word 3 for tree noise, apart from the NV draws (word 3 = 0). */
const BROWNIAN_STREAM = 0x42524f57;
const TWO_POW_32 = 0x1_0000_0000;

export class BrownianTree {
  private readonly endValue: Float64Array;
  /** W at the midpoints of the nodes on the last path walked, by node id. */
  private path = new Map<number, Float64Array>();

  constructor(
    private readonly seed: number,
    private readonly length: number,
    private readonly t0: number,
    private readonly t1: number,
  ) {
    checkSeed(seed);
    if (!(Number.isFinite(t0) && Number.isFinite(t1) && t0 < t1)) throw new RangeError(`a Brownian tree needs t0 < t1, got ${t0} and ${t1}`);
    const scale = Math.sqrt(t1 - t0);
    this.endValue = Float64Array.from(this.normals(0), (z) => scale * z);
  }

  /** W(t), t clamped to [t0, t1]. */
  at(t: number): Float64Array {
    t = Math.min(this.t1, Math.max(this.t0, t));
    let [a, b] = [this.t0, this.t1];
    let [wa, wb]: Float64Array[] = [new Float64Array(this.length), this.endValue];
    const path = new Map<number, Float64Array>();
    let node = 1;
    for (let depth = 0; ; depth++) {
      const z = depth === LEAF_DEPTH ? this.normals(node) : undefined;
      if (z) {
        // Inside the leaf: the bridge through its midpoint value at t.
        const w = (t - a) / (b - a);
        const spread = Math.sqrt(((t - a) * (b - t)) / (b - a));
        this.path = path;
        return wa.map((value, j) => value + w * (wb[j] - value) + spread * z[j]);
      }
      const m = (a + b) / 2;
      const wm = this.path.get(node) ?? this.midpoint(node, wa, wb, b - a);
      path.set(node, wm);
      if (t === m) {
        this.path = path;
        return Float64Array.from(wm);
      }
      if (t < m) [b, wb, node] = [m, wm, 2 * node];
      else [a, wa, node] = [m, wm, 2 * node + 1];
    }
  }

  private midpoint(node: number, wa: Float64Array, wb: Float64Array, width: number): Float64Array {
    const z = this.normals(node);
    const spread = Math.sqrt(width / 4);
    return wa.map((value, j) => (value + wb[j]) / 2 + spread * z[j]);
  }

  private normals(node: number): Float32Array {
    return philoxNormals(this.seed, [node % TWO_POW_32, Math.floor(node / TWO_POW_32), BROWNIAN_STREAM], new Float32Array(this.length));
  }
}
