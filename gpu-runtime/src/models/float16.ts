/**
 * IEEE 754 half precision <-> Float32Array. onnxruntime-node hands float16 tensors over as
 * Uint16Array bit patterns (Node 20 has no Float16Array), so fp16 models need these on every
 * step; both directions are a single pass without allocation beyond the result.
 */

let halfToFloatTable: Float32Array | undefined;

function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** 65536 entries (256 KB): one lookup per element beats any bit twiddling in JS. */
function table(): Float32Array {
  if (!halfToFloatTable) {
    halfToFloatTable = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) halfToFloatTable[bits] = decodeHalf(bits);
  }
  return halfToFloatTable;
}

export function float16ToFloat32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const lookup = table();
  for (let i = 0; i < src.length; i++) dst[i] = lookup[src[i]];
  return dst;
}

/** Rounds to nearest, ties to even, as a GPU's conversion does; overflow becomes ±Infinity. */
export function float32ToFloat16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = encodeHalf(bits[i]);
  return dst;
}

function encodeHalf(f32: number): number {
  const sign = (f32 >>> 16) & 0x8000;
  const exponent = (f32 >>> 23) & 0xff;
  const mantissa = f32 & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 112; // rebias 127 -> 15
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: shift the mantissa (with its implicit 1) into the 10-bit field.
    if (halfExponent < -10) return sign;
    const shift = 14 - halfExponent;
    const full = mantissa | 0x800000;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    let half = full >>> shift;
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return half;
}
