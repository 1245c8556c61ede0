import { philox4x32 } from './philox.js';
import { checkSeed } from './randn.js';

/**
 * A Brownian motion W on [t0, t1] (one independent motion per latent value), fixed by a seed and
 * evaluable at any time in any order: the idea of torchsde's BrownianTree, which k-diffusion's
 * BrownianTreeNoiseSampler gives the SDE samplers. Because the path is fixed before any step is
 * taken, a run with more steps samples the same path more finely and refines the same image,
 * where fresh noise per step would give an unrelated one.
 *
 * Construction: W(t0) = 0 and W(t1) = √(t1 − t0)·z_root. Each node of a binary tree over
 * [t0, t1] holds the Brownian bridge at its split point m of its interval [a, b], given the ends:
 *
 *   W(m) = W(a) + (m − a)/(b − a)·(W(b) − W(a)) + √((m − a)(b − m)/(b − a))·z_node
 *
 * down to LEAF_DEPTH levels; inside a leaf interval, W(t) is that bridge formula at t with the
 * leaf's z, so W is continuous. Intervals split at their geometric midpoint √(a·b) (t0 > 0): noise
 * levels are visited evenly in log σ, so the tree is as fine, relative to σ, at σ_min as at σ_max.
 * z_node: standard normals by Box–Muller from Philox4x32-10 keyed by the seed, counter
 * (node id, 0, block, BROWNIAN_STREAM), the node id being its heap index (root 1, children 2k and
 * 2k + 1), so a node's values do not depend on which queries came first. (Our own tree: torchsde's
 * semantics, not its numbers.)
 */

/**
 * 2^10 leaves over log(t1/t0): 0.6% in σ for SD's range. Values at points in different leaves
 * have exactly Brownian joint laws; two points would share a leaf only a step of under 0.6%
 * apart, which no schedule of up to 150 steps takes.
 */
const LEAF_DEPTH = 10;
/** Counter word 3 for tree noise, apart from the NV draws (word 3 = 0). */
const BROWNIAN_STREAM = 0x42524f57;
const TWO_POW_32 = 0x1_0000_0000;
const TWO_PI = 2 * Math.PI;

export class BrownianTree {
  private readonly endValue: Float64Array;
  /** W at the split points of the nodes on the last path walked, by node id. */
  private path = new Map<number, Float64Array>();

  constructor(
    private readonly seed: number,
    private readonly length: number,
    private readonly t0: number,
    private readonly t1: number,
  ) {
    checkSeed(seed);
    if (!(t0 > 0 && Number.isFinite(t1) && t0 < t1)) throw new RangeError(`a Brownian tree needs 0 < t0 < t1, got ${t0} and ${t1}`);
    this.endValue = this.normals(0);
    const scale = Math.sqrt(t1 - t0);
    for (let j = 0; j < length; j++) this.endValue[j] *= scale;
  }

  /** W(t), t clamped to [t0, t1]. */
  at(t: number): Float64Array {
    t = Math.min(this.t1, Math.max(this.t0, t));
    let [a, b] = [this.t0, this.t1];
    let [wa, wb]: Float64Array[] = [new Float64Array(this.length), this.endValue];
    const path = new Map<number, Float64Array>();
    for (let depth = 0, node = 1; ; depth++) {
      const m = depth === LEAF_DEPTH ? t : Math.sqrt(a * b);
      const wm = (depth < LEAF_DEPTH && this.path.get(node)) || bridge(wa, wb, a, b, m, this.normals(node));
      if (depth === LEAF_DEPTH || t === m) {
        this.path = path;
        return depth === LEAF_DEPTH ? wm : Float64Array.from(wm);
      }
      path.set(node, wm);
      if (t < m) [b, wb, node] = [m, wm, 2 * node];
      else [a, wa, node] = [m, wm, 2 * node + 1];
    }
  }

  /** `length` standard normals for a node, four per Philox block (two Box–Muller pairs). */
  private normals(node: number): Float64Array {
    const out = new Float64Array(this.length);
    const words = new Uint32Array(4);
    const [k0, k1] = [this.seed % TWO_POW_32, Math.floor(this.seed / TWO_POW_32)];
    for (let start = 0, block = 0; start < out.length; start += 4, block++) {
      philox4x32(node, 0, block, BROWNIAN_STREAM, k0, k1, words);
      for (let pair = 0; pair < 2; pair++) {
        const radius = Math.sqrt(-2 * Math.log((words[2 * pair] + 0.5) / TWO_POW_32));
        const angle = TWO_PI * ((words[2 * pair + 1] + 0.5) / TWO_POW_32);
        if (start + 2 * pair < out.length) out[start + 2 * pair] = radius * Math.cos(angle);
        if (start + 2 * pair + 1 < out.length) out[start + 2 * pair + 1] = radius * Math.sin(angle);
      }
    }
    return out;
  }
}

/** The Brownian bridge from (a, W(a)) to (b, W(b)) at m, with standard normals z. */
function bridge(wa: Float64Array, wb: Float64Array, a: number, b: number, m: number, z: Float64Array): Float64Array {
  const weight = (m - a) / (b - a);
  const spread = Math.sqrt(((m - a) * (b - m)) / (b - a));
  const out = z; // reused: z is not needed after this
  for (let j = 0; j < out.length; j++) out[j] = wa[j] + weight * (wb[j] - wa[j]) + spread * z[j];
  return out;
}
