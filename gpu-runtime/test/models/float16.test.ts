import fc from 'fast-check';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '../../src/models/float16.js';
import { timestepFeeder } from '../../src/models/onnx-io.js';

const allHalves = Uint16Array.from({ length: 0x10000 }, (_, i) => i);

describe('float16 conversion', () => {
  it('decodes known bit patterns', () => {
    const bits = Uint16Array.of(0x0000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x3555);
    expect(Array.from(float16ToFloat32(bits))).toEqual([0, 1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, 0.333251953125]);
    expect(float16ToFloat32(Uint16Array.of(0x7e00))[0]).toBeNaN();
  });

  it('round-trips every half-precision value exactly', () => {
    const back = float32ToFloat16(float16ToFloat32(allHalves));
    for (let bits = 0; bits < 0x10000; bits++) {
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (isNaN) expect(back[bits] & 0x7c00).toBe(0x7c00);
      else if (back[bits] !== bits) expect.fail(`0x${bits.toString(16)} came back as 0x${back[bits].toString(16)}`);
    }
  });

  it('rounds to the nearest half, ties to even, overflow to infinity', () => {
    const halfUlpAboveOne = 1 + 2 ** -11;
    const input = Float32Array.of(halfUlpAboveOne, 1 + 3 * 2 ** -11, 65520, 1e6, -1e6, 2 ** -25, 2 ** -26, 3 * 2 ** -26);
    expect(Array.from(float32ToFloat16(input))).toEqual([0x3c00, 0x3c02, 0x7c00, 0x7c00, 0xfc00, 0x0000, 0x0000, 0x0001]);
  });

  it('picks the nearest representable value for any float', () => {
    const finite = Array.from(float16ToFloat32(allHalves)).filter(Number.isFinite).sort((a, b) => a - b);
    const nearestError = (value: number) => {
      let [lo, hi] = [0, finite.length - 1];
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (finite[mid] <= value) lo = mid;
        else hi = mid;
      }
      return Math.min(Math.abs(finite[lo] - value), Math.abs(finite[hi] - value));
    };
    fc.assert(
      fc.property(fc.float({ min: -65000, max: 65000, noNaN: true }), (x) => {
        const value = Math.fround(x);
        const converted = float16ToFloat32(float32ToFloat16(Float32Array.of(value)))[0];
        return Math.abs(converted - value) === nearestError(value);
      }),
      { numRuns: 2000 },
    );
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
