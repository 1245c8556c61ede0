/**
 * CLIP's final layer norm, recovered from an exported text encoder.
 *
 * A1111 applies the final layer norm to the hidden state that clip skip picks, but an ONNX export
 * only exposes the norm's result (`last_hidden_state`), not its weights. Both its input (the last
 * `hidden_states.N`) and its output are outputs, though, and per feature the norm is a straight
 * line: out = scale · normalise(in) + bias. A least-squares fit over the 77 positions of any
 * prompt recovers scale and bias exactly (to float precision), once per model.
 */

export interface LayerNormWeights {
  scale: Float32Array;
  bias: Float32Array;
  epsilon: number;
}

/** Normalises each row of `width` values to zero mean and unit variance (no affine part). */
function normaliseRows(input: Float32Array, width: number, epsilon: number, visit: (row: number, j: number, x: number) => void): void {
  for (let row = 0; row * width < input.length; row++) {
    const offset = row * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += input[offset + j];
    mean /= width;
    let variance = 0;
    for (let j = 0; j < width; j++) variance += (input[offset + j] - mean) ** 2;
    const inverseStd = 1 / Math.sqrt(variance / width + epsilon);
    for (let j = 0; j < width; j++) visit(row, j, (input[offset + j] - mean) * inverseStd);
  }
}

export function fitLayerNorm(input: Float32Array, output: Float32Array, width: number, epsilon: number): LayerNormWeights {
  const [sx, sy, sxx, sxy] = [0, 0, 0, 0].map(() => new Float64Array(width));
  normaliseRows(input, width, epsilon, (row, j, x) => {
    const y = output[row * width + j];
    sx[j] += x;
    sy[j] += y;
    sxx[j] += x * x;
    sxy[j] += x * y;
  });
  const n = input.length / width;
  const scale = new Float32Array(width);
  const bias = new Float32Array(width);
  for (let j = 0; j < width; j++) {
    scale[j] = (n * sxy[j] - sx[j] * sy[j]) / (n * sxx[j] - sx[j] * sx[j]);
    bias[j] = (sy[j] - scale[j] * sx[j]) / n;
  }
  return { scale, bias, epsilon };
}

export function applyLayerNorm(input: Float32Array, width: number, { scale, bias, epsilon }: LayerNormWeights): Float32Array {
  const out = new Float32Array(input.length);
  normaliseRows(input, width, epsilon, (row, j, x) => {
    out[row * width + j] = x * scale[j] + bias[j];
  });
  return out;
}
