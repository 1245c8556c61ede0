import { Mt19937 } from './mt19937.js';

/**
 * torch's CPU generator as `torch.manual_seed(seed); torch.randn(n)` uses it for float32 (ATen's
 * CPUGeneratorImpl, normal_kernel in native/cpu/DistributionTemplates.h). ComfyUI draws its
 * latent noise this way, and so does A1111 with "Random number generator source: CPU".
 *
 * Two paths, chosen by the size of the tensor:
 *
 * - n ≥ 16 (normal_fill): n float uniforms u = (w & 0xFFFFFF)/2^24 from one 32-bit output w each,
 *   then Box–Muller in float32 on each block of 16, pairing value j with value j + 8:
 *     r = √(−2·ln(1 − u_j)),  θ = 2π·u_(j+8),  out_j = r·cos θ,  out_(j+8) = r·sin θ.
 *   When n is not a multiple of 16 the last 16 values are drawn again (16 fresh uniforms) and
 *   transformed as one block, overwriting the tail.
 * - n < 16 (normal_distribution<double>): one value at a time, in float64: u1, u2 from 53 bits of
 *   two 32-bit outputs each (first output high), r = √(−2·ln(1 − u2)), θ = 2π·u1; the value is
 *   r·cos θ and r·sin θ is kept in the generator for the next value drawn on this path.
 *
 * Float32 rounding is applied where torch stores or computes in float; torch's AVX2 build
 * evaluates the large path's log/sin/cos with SLEEF (1-ulp), so a value may differ in its last bit.
 */
export class TorchCpuGenerator {
  private readonly engine: Mt19937;
  /** The cached r·sin θ of the small path (torch's next_double_normal_sample). */
  private nextDoubleNormal: number | undefined;

  constructor(seed: number) {
    this.engine = new Mt19937(seed);
  }

  /** `torch.randn(n)` in float32, advancing the generator exactly as torch does. */
  randn(n: number): Float32Array {
    const out = new Float32Array(n);
    if (n >= 16) this.normalFill(out);
    else for (let i = 0; i < n; i++) out[i] = this.normalDouble();
    return out;
  }

  private uniformFloat(): number {
    return (this.engine.next() & 0xffffff) / 0x1000000;
  }

  private uniformDouble(): number {
    const high = this.engine.next();
    const low = this.engine.next();
    // (high·2^32 + low) & (2^53 − 1), over 2^53: the top 11 bits of `high` are dropped.
    return ((high & 0x1fffff) * 0x100000000 + low) / 2 ** 53;
  }

  private normalFill(out: Float32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = this.uniformFloat();
    for (let start = 0; start + 16 <= n; start += 16) boxMuller16(out, start);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) out[i] = this.uniformFloat();
      boxMuller16(out, n - 16);
    }
  }

  private normalDouble(): number {
    if (this.nextDoubleNormal !== undefined) {
      const cached = this.nextDoubleNormal;
      this.nextDoubleNormal = undefined;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

const f = Math.fround;
const TWO_PI = 2 * Math.PI;

/** torch's normal_fill_16: Box–Muller on one block of 16 float uniforms, in float32. */
function boxMuller16(data: Float32Array, start: number): void {
  for (let j = start; j < start + 8; j++) {
    const u1 = f(1 - data[j]); // [0, 1) → (0, 1] for the log
    const u2 = data[j + 8];
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI * u2);
    data[j] = f(radius * f(Math.cos(theta)));
    data[j + 8] = f(radius * f(Math.sin(theta)));
  }
}
