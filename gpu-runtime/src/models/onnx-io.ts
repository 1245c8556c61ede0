import ort from 'onnxruntime-node';
import { ModelLoadError } from './errors.js';
import { float16ToFloat32, float32ToFloat16 } from './half-precision.js';

/**
 * The seam between the pipeline, which thinks in Float32Array, and each exported graph, which may
 * take fp16 or fp32 and an int64 or float timestep. Each adapter is chosen once from the
 * session's metadata when the model loads, so a step pays for nothing but the conversion an fp16
 * model really needs (fp32 data goes to onnxruntime without a copy).
 */

/** Row-major float32 data and its shape, e.g. latents [batch, 4, height, width]. */
export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

type TensorMetadata = ort.InferenceSession.TensorValueMetadata;

function find(list: readonly ort.InferenceSession.ValueMetadata[], name: string): TensorMetadata | undefined {
  const value = list.find((v) => v.name === name);
  return value?.isTensor ? value : undefined;
}

export function hasInput(session: ort.InferenceSession, name: string): boolean {
  return find(session.inputMetadata, name) !== undefined;
}

export function hasOutput(session: ort.InferenceSession, name: string): boolean {
  return find(session.outputMetadata, name) !== undefined;
}

const names = (list: readonly ort.InferenceSession.ValueMetadata[]) => list.map((v) => v.name).join(', ');

export function requireInput(session: ort.InferenceSession, name: string, file: string): TensorMetadata {
  const metadata = find(session.inputMetadata, name);
  if (!metadata) throw new ModelLoadError('MODEL_INVALID', `${file} has no input "${name}" (it has: ${names(session.inputMetadata)})`);
  return metadata;
}

export function requireOutput(session: ort.InferenceSession, name: string, file: string): TensorMetadata {
  const metadata = find(session.outputMetadata, name);
  if (!metadata) throw new ModelLoadError('MODEL_INVALID', `${file} has no output "${name}" (it has: ${names(session.outputMetadata)})`);
  return metadata;
}

export type FloatFeeder = (tensor: FloatTensor) => ort.Tensor;

/**
 * How to hand float32 data to an input declared float32 or float16. With `reuse`, an fp16
 * feeder converts into one buffer it keeps (grown when needed), so a tensor it made is only
 * valid until its next call: for inputs fed anew on every run, such as the latents.
 * (bfloat16 never reaches here: onnxruntime-node 1.30 refuses to open a graph whose inputs or
 * outputs are bfloat16: see bfloat16Refusal.)
 */
export function floatFeeder(metadata: TensorMetadata, file: string, { reuse = false } = {}): FloatFeeder {
  switch (metadata.type) {
    case 'float32':
      return ({ data, dims }) => new ort.Tensor('float32', data, dims);
    case 'float16': {
      let buffer = new Uint16Array(0);
      return ({ data, dims }) => {
        if (!reuse) return new ort.Tensor('float16', float32ToFloat16(data), dims);
        if (buffer.length !== data.length) buffer = new Uint16Array(data.length);
        return new ort.Tensor('float16', float32ToFloat16(data, buffer), dims);
      };
    }
    default:
      throw new ModelLoadError('MODEL_INVALID', `${file}: input "${metadata.name}" is ${metadata.type}; expected float32 or float16`);
  }
}

/**
 * An output as float32, whatever precision the graph computed it in. fp16 is converted into
 * `into` when it has the right length (float32 data is returned as it is, without a copy).
 */
export function readFloats(tensor: ort.Tensor, into?: Float32Array): Float32Array {
  const { data } = tensor;
  if (tensor.type === 'float32') return data as Float32Array;
  if (tensor.type === 'float16') {
    // onnxruntime gives fp16 as Uint16Array bit patterns; a runtime with Float16Array gives numbers.
    if (!(data instanceof Uint16Array)) return Float32Array.from(data as ArrayLike<number>);
    return float16ToFloat32(data, into?.length === data.length ? into : undefined);
  }
  throw new Error(`expected a float output, got ${tensor.type}`);
}

/**
 * A graph whose inputs or outputs are bfloat16 (ONNX data type 16) cannot be opened by
 * onnxruntime-node 1.30: its JavaScript API has no bfloat16 tensor, and creating the session
 * fails with "Unsupported data type: 16". This turns that failure into a MODEL_INVALID that names
 * the dtype and what to use instead (`instead`, e.g. "an fp16 or fp32 export"); bf16 weights
 * inside a graph with float16 or float32 inputs and outputs are fine.
 */
export function bfloat16Refusal(file: string, error: unknown, instead?: string): ModelLoadError | undefined {
  return /Unsupported data type: 16\b/.test((error as Error)?.message ?? '') ? bfloat16Error(file, instead, error) : undefined;
}

/** The same refusal, for a graph whose bfloat16 inputs or outputs were read from its file (graph-io.ts). */
export function bfloat16Error(file: string, instead = 'an fp16 or fp32 export of it', cause?: unknown): ModelLoadError {
  return new ModelLoadError(
    'MODEL_INVALID',
    `${file} takes or returns bfloat16 tensors, which onnxruntime-node cannot feed or read (its JavaScript API has no bfloat16 type); use ${instead}`,
    { cause },
  );
}

export const readFloatTensor = (tensor: ort.Tensor): FloatTensor => ({ data: readFloats(tensor), dims: tensor.dims });

/**
 * The UNet's timestep as the export declares it: a scalar or a vector, int64 (older Optimum
 * exports, rounded to the nearest training step) or float32/float16 (fractional timesteps, which
 * the k-diffusion samplers produce). A dynamic-length vector gets one value: the graph broadcasts
 * it over the batch, as diffusers' own ONNX pipeline feeds it.
 */
export function timestepFeeder(metadata: TensorMetadata, file: string): (timestep: number) => ort.Tensor {
  if (metadata.shape.length > 1) {
    throw new ModelLoadError('MODEL_INVALID', `${file}: input "timestep" has shape [${metadata.shape.join(', ')}]; expected a scalar or a vector`);
  }
  const dims = metadata.shape.length === 0 ? [] : [typeof metadata.shape[0] === 'number' ? metadata.shape[0] : 1];
  const count = dims[0] ?? 1;
  switch (metadata.type) {
    case 'int64':
      return (t) => new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(t))), dims);
    case 'int32':
      return (t) => new ort.Tensor('int32', new Int32Array(count).fill(Math.round(t)), dims);
    case 'float32':
      return (t) => new ort.Tensor('float32', new Float32Array(count).fill(t), dims);
    case 'float16':
      return (t) => new ort.Tensor('float16', float32ToFloat16(new Float32Array(count).fill(t)), dims);
    case 'float64':
      return (t) => new ort.Tensor('float64', new Float64Array(count).fill(t), dims);
    default:
      throw new ModelLoadError('MODEL_INVALID', `${file}: input "timestep" is ${metadata.type}; expected an integer or float type`);
  }
}
