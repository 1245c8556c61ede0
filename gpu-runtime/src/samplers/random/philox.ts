/**
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel Random
 * Numbers: As Easy as 1, 2, 3" (SC 2011), with Random123's constants. A 128-bit counter and a
 * 64-bit key map to four 32-bit words; there is no state, so any position of any stream can be
 * computed directly. Checked against Random123's known-answer vectors in the tests.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9 | 0;
const W1 = 0xbb67ae85 | 0;

// The multipliers in 16-bit halves: the high word of a 32×32-bit product is then built from
// partial products below 2^34, exact in float64 (and much faster than BigInt).
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;

/** The high 32 bits of a·m (a, m unsigned 32-bit; m given by its halves), as an int32 bit pattern. */
function mulHi(a: number, mHi: number, mLo: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const middle = aHi * mLo + aLo * mHi + ((aLo * mLo) >>> 16);
  return (aHi * mHi + ((middle / 0x10000) | 0)) | 0;
}

/**
 * Writes Philox4x32-10(counter = (c0, c1, c2, c3), key = (k0, k1)) into `out`. Ten rounds of
 *   (c0, c1, c2, c3) ← (hi(M1·c2) ⊕ c1 ⊕ k0,  lo(M1·c2),  hi(M0·c0) ⊕ c3 ⊕ k1,  lo(M0·c0))
 * with the key bumped by the Weyl constants (W0, W1) between rounds. Words are unsigned 32-bit
 * values; the arithmetic runs on int32 bit patterns because V8 keeps those in registers.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  k0 |= 0;
  k1 |= 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(c0, M0_HI, M0_LO);
    const lo0 = Math.imul(c0, M0);
    const hi1 = mulHi(c2, M1_HI, M1_LO);
    const lo1 = Math.imul(c2, M1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 = (k0 + W0) | 0;
    k1 = (k1 + W1) | 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}
