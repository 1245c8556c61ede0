import { describe, expect, it } from 'vitest';
import { applyLayerNorm, fitLayerNorm } from '../../src/models/layer-norm.js';

describe('final layer norm recovery', () => {
  it('recovers scale and bias from a layer norm input and output', () => {
    const width = 16;
    const rows = 77;
    const input = Float32Array.from({ length: rows * width }, (_, i) => Math.sin(i * 1.7) * 3 + Math.cos(i / 11));
    const truth = {
      scale: Float32Array.from({ length: width }, (_, j) => 0.5 + j / 10),
      bias: Float32Array.from({ length: width }, (_, j) => Math.sin(j) / 4),
      epsilon: 1e-5,
    };
    const output = applyLayerNorm(input, width, truth);
    const fitted = fitLayerNorm(input, output, width, 1e-5);
    for (let j = 0; j < width; j++) {
      expect(fitted.scale[j]).toBeCloseTo(truth.scale[j], 4);
      expect(fitted.bias[j]).toBeCloseTo(truth.bias[j], 4);
    }
    const other = Float32Array.from({ length: 3 * width }, (_, i) => i % 7);
    const expected = applyLayerNorm(other, width, truth);
    applyLayerNorm(other, width, fitted).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
  });

  it('normalises each row to zero mean and unit variance before the affine part', () => {
    const row = Float32Array.of(1, 2, 3, 4);
    const out = applyLayerNorm(row, 4, { scale: new Float32Array(4).fill(1), bias: new Float32Array(4), epsilon: 0 });
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    expect(out.reduce((a, b) => a + b * b, 0) / 4).toBeCloseTo(1, 5);
  });
});
