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

const F16_OVERFLOW = (127 + 16) << 23; // 2^16: all Infinity (from 65520 up, rounding gets there too)
const F16_NORMAL_MIN = 113 << 23; // 2^-14, the smallest normal half
const F32_INFINITY = 255 << 23;
/** Adding this float shifts a tiny value's bits into place as a half subnormal, rounding as the FPU does. */
const SUBNORMAL_MAGIC = (127 - 15 + 23 - 10 + 1) << 23;
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);
scratchBits[0] = SUBNORMAL_MAGIC;
const SUBNORMAL_MAGIC_FLOAT = scratchFloat[0];

/**
 * Rounds to nearest, ties to even, as a GPU's conversion does; overflow becomes ±Infinity. Normal
 * values (nearly all latents) take the integer path: rebias the exponent and round the 13 dropped
 * mantissa bits by adding 0xfff plus the kept lowest bit.
 */
export function float32ToFloat16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i];
    const sign = (f >>> 16) & 0x8000;
    const magnitude = f & 0x7fffffff;
    let half: number;
    if (magnitude >= F16_OVERFLOW) {
      half = magnitude > F32_INFINITY ? 0x7e00 : 0x7c00;
    } else if (magnitude < F16_NORMAL_MIN) {
      scratchBits[0] = magnitude;
      scratchFloat[0] += SUBNORMAL_MAGIC_FLOAT;
      half = scratchBits[0] - SUBNORMAL_MAGIC;
    } else {
      half = (magnitude + ((15 - 127) << 23) + 0xfff + ((magnitude >>> 13) & 1)) >>> 13;
    }
    dst[i] = sign | half;
  }
  return dst;
}
