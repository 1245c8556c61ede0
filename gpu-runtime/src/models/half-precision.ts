/**
 * 16-bit floats <-> Float32Array: IEEE 754 half precision (fp16) and bfloat16. onnxruntime-node
 * hands fp16 tensors over as Uint16Array bit patterns (Node 20 has no Float16Array), so an fp16
 * Flux transformer converts its 262,144 latent values (1024²) in and out on every step: both
 * directions are one pass that allocates nothing when given a destination.
 *
 * Narrowing to fp16 rounds to nearest, ties to even, as a GPU's conversion does; values past the
 * largest finite half become ±Infinity and NaN stays NaN.
 */

const F32_MAGNITUDE = 0x7fffffff;
const F32_INFINITY = 0x7f800000;

// ---- fp16 -> float32: one lookup per value (65,536 entries, 256 KB, built on first use).

let halfTable: Float32Array | undefined;

/** The value of a half's bit pattern, from the definition (sign, 5-bit exponent biased by 15, 10-bit mantissa). */
function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) halfTable[bits] = decodeHalf(bits);
  }
  return halfTable;
}

export function float16ToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = halfToFloatTable();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

// ---- float32 -> fp16. Normal values (nearly all latents) take the integer path: rebias the
// exponent and round the 13 dropped mantissa bits by adding 0xfff plus the kept lowest bit (ties
// to even; a carry moves to the next exponent, and from 65520 up to Infinity). The rare cases
// branch: overflow, Infinity and NaN; halves' subnormals, which the FPU rounds for us. (An
// exponent-indexed base/shift table, one path for every value, measured 1.4–1.7× slower here:
// its variable shift costs more than the well-predicted branches.)

const F16_OVERFLOW = (127 + 16) << 23; // 2^16: all Infinity (from 65520 up, rounding gets there too)
const F16_NORMAL_MIN = 113 << 23; // 2^-14, the smallest normal half
/** Adding this float shifts a tiny value's bits into place as a half subnormal, rounding as the FPU does. */
const SUBNORMAL_MAGIC = (127 - 15 + 23 - 10 + 1) << 23;
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);
scratchBits[0] = SUBNORMAL_MAGIC;
const SUBNORMAL_MAGIC_FLOAT = scratchFloat[0];

export function float32ToFloat16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i];
    const sign = (f >>> 16) & 0x8000;
    const magnitude = f & F32_MAGNITUDE;
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

// ---- bfloat16: the top half of a float32 (8-bit exponent, 7-bit mantissa). Only read (BF16
// LoRA files): onnxruntime-node 1.30 has no bfloat16 tensors to feed, see onnx-io.ts.

export function bfloat16ToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return dst;
}
