/**
 * The standard normal quantile Φ⁻¹(p), by Wichura's Algorithm AS 241 (PPND16, Applied Statistics
 * 37, 1988): ratios of degree-7 polynomials, accurate to about 1e-16, in three regions of p. The
 * same algorithm is behind Python's `statistics.NormalDist().inv_cdf` (agreement within an ulp).
 *
 * Why a quantile rather than Box–Muller: one uniform gives one normal, so random access needs no
 * pairing, and the central region (85% of draws) needs no log, sqrt or trig: measured ~20% faster.
 */

/** Φ⁻¹(p) for 0 < p < 1. */
export function normalQuantile(p: number): number {
  const q = p - 0.5;
  if (q * q > 0.180625) return tailQuantile(p, q);
  const r = 0.180625 - q * q; // 0.425² − q²
  return (
    (q *
      poly7(r, 3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
        45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727)) /
    poly7(r, 1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
      21213.794301586595867, 39307.89580009271061, 28729.085735721942674, 5226.495278852545925)
  );
}

// Apart from normalQuantile so that V8 inlines the common central case into the caller's loop.
function tailQuantile(p: number, q: number): number {
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let value: number;
  if (r <= 5) {
    r -= 1.6;
    value =
      poly7(r, 1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
        1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4) /
      poly7(r, 1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
        0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9);
  } else {
    r -= 5;
    value =
      poly7(r, 6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
        0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7) /
      poly7(r, 1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
        7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15);
  }
  return q < 0 ? -value : value;
}

/** a0 + a1·r + … + a7·r⁷, by Horner's rule. */
function poly7(r: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number): number {
  return ((((((a7 * r + a6) * r + a5) * r + a4) * r + a3) * r + a2) * r + a1) * r + a0;
}
