import { float32ToFloat16 } from '../models/float16.js';
import {
  AttrType,
  ElemType,
  encodeModel,
  type AttributeMessage,
  type Dim,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnx-proto.js';
import type { WeightRandom } from './random.js';

/** Opset 17 has LayerNormalization and keeps ReduceMean's axes an attribute. IR 8 goes with it. */
const OPSET = 17;
const IR_VERSION = 8;

/** Marks a float attribute whose value happens to be an integer (plain numbers become INT). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (value: number) => new FloatAttr(value);

type AttrValue = number | number[] | FloatAttr;

export type IoType = 'float32' | 'float16' | 'int32' | 'int64';

const ELEM_TYPE: Record<IoType, ElemType> = {
  float32: ElemType.FLOAT,
  float16: ElemType.FLOAT16,
  int32: ElemType.INT32,
  int64: ElemType.INT64,
};

function valueInfo(name: string, type: IoType, dims: readonly Dim[]): ValueInfoMessage {
  return {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType: ELEM_TYPE[type],
          shape: { dim: dims.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } })) },
        },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): AttributeMessage {
  if (value instanceof FloatAttr) return { name, type: AttrType.FLOAT, f: value.value };
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value.map(BigInt) };
  if (Number.isInteger(value)) return { name, type: AttrType.INT, i: BigInt(value) };
  return { name, type: AttrType.FLOAT, f: value };
}

function littleEndianBytes(values: Float32Array | Uint16Array | BigInt64Array): Uint8Array<ArrayBuffer> {
  // Typed arrays are little-endian on every platform Node runs on, which is ONNX's raw_data order.
  return new Uint8Array(values.slice().buffer);
}

/**
 * Builds an ONNX graph one node at a time. Values are named by their producing op, so a model
 * definition reads like the maths. All arithmetic is float32 inside; `weightType: 'float16'`
 * stores the weights in half precision (as an fp16 export does) and casts them up once, and the
 * model's inputs and outputs are cast at the boundary to whatever dtype the real export uses.
 */
export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private counter = 0;

  constructor(
    private readonly random: WeightRandom,
    private readonly weightType: 'float32' | 'float16',
  ) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      name: this.fresh(`${opType}_node`),
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return out;
  }

  /** A graph input, cast to float32 when it is a half-precision tensor. */
  input(name: string, type: IoType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return type === 'float16' ? this.op('Cast', [name], { to: ElemType.FLOAT }) : name;
  }

  /** Exposes an internal float32 value as a graph output of the given dtype. */
  output(value: string, name: string, type: 'float32' | 'float16', dims: readonly Dim[]): void {
    this.op(type === 'float16' ? 'Cast' : 'Identity', [value], type === 'float16' ? { to: ElemType.FLOAT16 } : {}, name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A trainable-looking weight: normal(mean, std) from the seeded generator. */
  weight(dims: number[], std: number, mean = 0): string {
    return this.floats(dims, this.random.normal(dims.reduce((a, b) => a * b, 1), std, mean));
  }

  /** A float32 constant with explicit values, stored like the other weights. */
  floats(dims: number[], values: Float32Array): string {
    const name = this.fresh('w');
    if (this.weightType === 'float32') {
      this.initializers.push({ name, dims: dims.map(BigInt), dataType: ElemType.FLOAT, rawData: littleEndianBytes(values) });
      return name;
    }
    const stored = `${name}_fp16`;
    this.initializers.push({ name: stored, dims: dims.map(BigInt), dataType: ElemType.FLOAT16, rawData: littleEndianBytes(float32ToFloat16(values)) });
    return this.op('Cast', [stored], { to: ElemType.FLOAT }, name);
  }

  /** An int64 constant (axes, shapes, indices). */
  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('i');
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims: dims.map(BigInt), dataType: ElemType.INT64, rawData: littleEndianBytes(data) });
    return name;
  }

  /** x @ W + b with fresh weights, the workhorse of every tiny layer. */
  linear(x: string, inFeatures: number, outFeatures: number, std = 1 / Math.sqrt(inFeatures)): string {
    const product = this.op('MatMul', [x, this.weight([inFeatures, outFeatures], std)]);
    return this.op('Add', [product, this.weight([outFeatures], 0.02)]);
  }

  toBytes(graphName: string): Uint8Array {
    return encodeModel({
      irVersion: BigInt(IR_VERSION),
      producerName: 'easel-make-tiny-models',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: BigInt(OPSET) }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}
