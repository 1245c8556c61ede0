import fc from 'fast-check';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat32, float16ToFloat32, float32ToFloat16 } from '../../src/models/half-precision.js';
import { floatFeeder, readFloats, timestepFeeder } from '../../src/models/onnx-io.js';

const allHalves = Uint16Array.from({ length: 0x10000 }, (_, i) => i);

/**
 * Reference conversions written from the formats' definitions, in float64 arithmetic (exact for
 * every value involved), independent of the bit tricks under test.
 */
interface Format {
  exponentBits: number;
  mantissaBits: number;
}
const FP16: Format = { exponentBits: 5, mantissaBits: 10 };
const BF16: Format = { exponentBits: 8, mantissaBits: 7 };

function referenceDecode(bits: number, { exponentBits, mantissaBits }: Format): number {
  const bias = 2 ** (exponentBits - 1) - 1;
  const sign = bits >> (exponentBits + mantissaBits) ? -1 : 1;
  const exponent = (bits >> mantissaBits) & (2 ** exponentBits - 1);
  const mantissa = bits & (2 ** mantissaBits - 1);
  if (exponent === 2 ** exponentBits - 1) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / 2 ** mantissaBits) * 2 ** (exponent - bias);
}

/** Round half to even, for q ≥ 0. */
function roundHalfEven(q: number): number {
  const floor = Math.floor(q);
  const fraction = q - floor;
  if (fraction !== 0.5) return fraction > 0.5 ? floor + 1 : floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function referenceEncode(value: number, { exponentBits, mantissaBits }: Format): number {
  const bias = 2 ** (exponentBits - 1) - 1;
  const signBit = value < 0 || Object.is(value, -0) ? 2 ** (exponentBits + mantissaBits) : 0;
  const infinity = (2 ** exponentBits - 1) * 2 ** mantissaBits;
  if (Number.isNaN(value)) return infinity + 2 ** (mantissaBits - 1);
  const magnitude = Math.abs(value);
  // Halfway between the largest finite value and the next power of two rounds up, to Infinity.
  if (magnitude >= (2 - 2 ** -(mantissaBits + 1)) * 2 ** bias) return signBit + infinity;
  const minNormalExponent = 1 - bias;
  if (magnitude < 2 ** minNormalExponent) return signBit + roundHalfEven(magnitude / 2 ** (minNormalExponent - mantissaBits));
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  if (2 ** (exponent + 1) <= magnitude) exponent++;
  const significand = roundHalfEven((magnitude / 2 ** exponent) * 2 ** mantissaBits); // a carry to 2^(m+1) moves up an exponent
  return signBit + (exponent + bias) * 2 ** mantissaBits + significand - 2 ** mantissaBits;
}

const isHalfNaN = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
const floatFromBits = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0];

describe('float16 conversion', () => {
  it('decodes known bit patterns', () => {
    const bits = Uint16Array.of(0x0000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x3555);
    expect(Array.from(float16ToFloat32(bits))).toEqual([0, 1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, 0.333251953125]);
    expect(float16ToFloat32(Uint16Array.of(0x7e00))[0]).toBeNaN();
  });

  it('decodes all 65,536 halves as the reference does', () => {
    const decoded = float16ToFloat32(allHalves);
    for (let bits = 0; bits < 0x10000; bits++) {
      const expected = referenceDecode(bits, FP16);
      if (!Object.is(decoded[bits], expected)) expect.fail(`0x${bits.toString(16)} decoded to ${decoded[bits]}; the reference says ${expected}`);
    }
  });

  it('round-trips every half-precision value exactly', () => {
    const back = float32ToFloat16(float16ToFloat32(allHalves));
    for (let bits = 0; bits < 0x10000; bits++) {
      if (isHalfNaN(bits)) expect(isHalfNaN(back[bits])).toBe(true);
      else if (back[bits] !== bits) expect.fail(`0x${bits.toString(16)} came back as 0x${back[bits].toString(16)}`);
    }
  });

  it('rounds to the nearest half, ties to even, overflow to infinity', () => {
    const halfUlpAboveOne = 1 + 2 ** -11;
    const input = Float32Array.of(halfUlpAboveOne, 1 + 3 * 2 ** -11, 65520, 1e6, -1e6, 2 ** -25, 2 ** -26, 3 * 2 ** -26);
    expect(Array.from(float32ToFloat16(input))).toEqual([0x3c00, 0x3c02, 0x7c00, 0x7c00, 0xfc00, 0x0000, 0x0000, 0x0001]);
  });

  it('encodes any float32 bit pattern as the reference does (zeros, subnormals, normals, overflow, Infinity, NaN)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const value = floatFromBits(bits);
        const half = float32ToFloat16(Float32Array.of(value))[0];
        const expected = referenceEncode(value, FP16);
        return Number.isNaN(value) ? isHalfNaN(half) && (half & 0x8000) === ((bits >>> 16) & 0x8000) : half === expected;
      }),
      { numRuns: 20000 },
    );
  });

  it('encodes floats in the latents\' range as the reference does', () => {
    fc.assert(
      fc.property(fc.float({ min: -70000, max: 70000, noNaN: true }), (x) => float32ToFloat16(Float32Array.of(x))[0] === referenceEncode(Math.fround(x), FP16)),
      { numRuns: 20000 },
    );
  });

  it('sends a value halfway between two halves to the even one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean(), (bits, negative) => {
        const midway = (referenceDecode(bits, FP16) + referenceDecode(bits + 1, FP16)) / 2; // 12 significant bits: exact in float32
        const half = float32ToFloat16(Float32Array.of(negative ? -midway : midway))[0];
        return half === (bits % 2 === 0 ? bits : bits + 1) + (negative ? 0x8000 : 0);
      }),
      { numRuns: 5000 },
    );
  });

  it('writes into a given buffer, also from a view into a larger one', () => {
    const backing = new Float32Array([9, 1, -2, 0.5, 9]);
    const out = new Uint16Array(3);
    expect(float32ToFloat16(backing.subarray(1, 4), out)).toBe(out);
    expect(Array.from(out)).toEqual([0x3c00, 0xc000, 0x3800]);
    const floats = new Float32Array(3);
    expect(float16ToFloat32(out, floats)).toBe(floats);
    expect(Array.from(floats)).toEqual([1, -2, 0.5]);
  });
});

describe('bfloat16 conversion', () => {
  it('decodes all 65,536 bfloat16 values as the reference does', () => {
    const decoded = bfloat16ToFloat32(allHalves);
    for (let bits = 0; bits < 0x10000; bits++) {
      const expected = referenceDecode(bits, BF16);
      if (!Object.is(decoded[bits], Math.fround(expected))) expect.fail(`bf16 0x${bits.toString(16)} decoded to ${decoded[bits]}; the reference says ${expected}`);
    }
  });

  it('reference encoding inverts the decoding (a check of the reference itself)', () => {
    for (const bits of [0x0000, 0x0001, 0x007f, 0x0080, 0x3f80, 0xbf80, 0x7f7f, 0x7f80, 0xff80]) expect(referenceEncode(referenceDecode(bits, BF16), BF16)).toBe(bits);
  });
});

describe('timestep feeds', () => {
  const metadata = (type: ort.Tensor.Type, shape: (number | string)[]) => ({ name: 'timestep', isTensor: true as const, type, shape });

  it('rounds for integer timesteps and keeps fractions for float ones', () => {
    const int64 = timestepFeeder(metadata('int64', ['steps']), 'unet')(499.6);
    expect(int64.dims).toEqual([1]);
    expect(Array.from(int64.data as BigInt64Array)).toEqual([500n]);
    const float32 = timestepFeeder(metadata('float32', []), 'unet')(499.6);
    expect(float32.dims).toEqual([]);
    expect((float32.data as Float32Array)[0]).toBeCloseTo(499.6, 4);
    const float16 = timestepFeeder(metadata('float16', [2]), 'unet')(1.5);
    expect(float16.dims).toEqual([2]);
    expect(Array.from(float16.data as Uint16Array)).toEqual([0x3e00, 0x3e00]);
  });

  it('refuses shapes and types a timestep cannot have', () => {
    expect(() => timestepFeeder(metadata('float32', [1, 1]), 'unet/model.onnx')).toThrow(/unet\/model\.onnx.*shape/);
    expect(() => timestepFeeder(metadata('string', []), 'unet/model.onnx')).toThrow(/string/);
  });
});

describe('float feeds and reads', () => {
  const metadata = (type: ort.Tensor.Type) => ({ name: 'hidden_states', isTensor: true as const, type, shape: [1, 3] });

  it('converts for an fp16 input; with reuse, into one buffer, valid until the next call', () => {
    const feed = floatFeeder(metadata('float16'), 'transformer', { reuse: true });
    const first = feed({ data: Float32Array.of(1, -2, 0.5), dims: [1, 3] });
    expect(Array.from(first.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800]);
    const second = feed({ data: Float32Array.of(2, 0, -1), dims: [1, 3] });
    expect((second.data as Uint16Array).buffer).toBe((first.data as Uint16Array).buffer);
    expect(Array.from(second.data as Uint16Array)).toEqual([0x4000, 0x0000, 0xbc00]);
    const fresh = floatFeeder(metadata('float16'), 'transformer');
    const a = fresh({ data: Float32Array.of(1, 1, 1), dims: [1, 3] });
    expect((fresh({ data: Float32Array.of(1, 1, 1), dims: [1, 3] }).data as Uint16Array).buffer).not.toBe((a.data as Uint16Array).buffer);
  });

  it('reads fp16 outputs into a given buffer of the right length, and float32 ones without a copy', () => {
    const into = new Float32Array(2);
    expect(readFloats(new ort.Tensor('float16', Uint16Array.of(0x3c00, 0xc000), [2]), into)).toBe(into);
    expect(Array.from(into)).toEqual([1, -2]);
    expect(readFloats(new ort.Tensor('float16', Uint16Array.of(0x3c00), [1]), into)).not.toBe(into);
    const floats = Float32Array.of(3, 4);
    expect(readFloats(new ort.Tensor('float32', floats, [2]), into)).toBe(floats);
  });
});
