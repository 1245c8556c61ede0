/**
 * MT19937, the 32-bit Mersenne Twister of Matsumoto and Nishimura (1998), seeded as their
 * `init_genrand` does. torch's CPU generator is exactly this engine: `torch.manual_seed(s)` seeds
 * it with the low 32 bits of s, and every random number torch draws on the CPU starts as its
 * output. Checked against the reference implementation's known outputs in the tests.
 */
const N = 624;
const M = 397;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const MATRIX_A = 0x9908b0df;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  /** `seed` is any whole number; only its low 32 bits count, as in torch. */
  constructor(seed: number) {
    this.state[0] = Number(BigInt.asUintN(32, BigInt(seed)));
    for (let i = 1; i < N; i++) {
      const previous = this.state[i - 1] ^ (this.state[i - 1] >>> 30);
      // 1812433253 · previous + i mod 2^32, in 16-bit halves so that no product passes 2^53.
      this.state[i] = ((((previous >>> 16) * 1812433253) << 16) + (previous & 0xffff) * 1812433253 + i) >>> 0;
    }
  }

  /** The next 32-bit output, an unsigned integer. */
  next(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & UPPER_MASK) | (mt[(i + 1) % N] & LOWER_MASK);
      mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }
}
