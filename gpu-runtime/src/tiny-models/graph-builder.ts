import { float32ToFloat16 } from '../models/half-precision.js';
import {
  AttrType,
  DataLocation,
  ElemType,
  encodeModel,
  stringEntries,
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

  /** `nodeName` gives the node a real export's name (see nodeNameOf). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string, nodeName?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      name: nodeName ?? this.fresh(`${opType}_node`),
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

  /** A trainable-looking weight: normal(mean, std) from the seeded generator; `name` as the export would name it. */
  weight(dims: number[], std: number, mean = 0, name?: string): string {
    return this.floats(dims, this.random.normal(dims.reduce((a, b) => a * b, 1), std, mean), name);
  }

  /** A float32 constant with explicit values, stored like the other weights. */
  floats(dims: number[], values: Float32Array, initializerName?: string): string {
    const name = initializerName ?? this.fresh('w');
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

  /**
   * x @ W + b with fresh weights, the workhorse of every tiny layer. Given the torch module's path
   * (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`), the nodes and weights are named
   * as Optimum's export names them: the MatMul `/down_blocks.0/…/to_q/MatMul`, its weight an
   * anonymous `onnx::MatMul_N` stored [in, out], the bias `<module>.bias`.
   */
  linear(x: string, inFeatures: number, outFeatures: number, std = 1 / Math.sqrt(inFeatures), module?: string): string {
    const weight = this.weight([inFeatures, outFeatures], std, 0, module && `onnx::MatMul_${this.counter++}`);
    const product = this.op('MatMul', [x, weight], {}, undefined, module && nodeNameOf(module, 'MatMul'));
    return this.op('Add', [product, this.weight([outFeatures], 0.02, 0, module && `${module}.bias`)], {}, undefined, module && nodeNameOf(module, 'Add'));
  }

  /** A convolution with fresh weights; a module path names it as the export does (`<module>.weight`). */
  conv(x: string, dims: [number, number, number, number], std: number, biasStd: number, attrs: Record<string, AttrValue> = {}, module?: string): string {
    const weight = this.weight(dims, std, 0, module && `${module}.weight`);
    const bias = this.weight([dims[0]], biasStd, 0, module && `${module}.bias`);
    return this.op('Conv', [x, weight, bias], attrs, undefined, module && nodeNameOf(module, 'Conv'));
  }

  toBytes(graphName: string): Uint8Array {
    return this.toFiles(graphName).model;
  }

  /**
   * The model, with every initializer of `externalThreshold` bytes or more moved to the external
   * data file `location` beside it, as Optimum's export writes large models (`model.onnx_data`).
   */
  toFiles(graphName: string, external?: { location: string; threshold: number }): { model: Uint8Array; data?: Uint8Array } {
    let initializers = this.initializers;
    let data: Uint8Array | undefined;
    if (external) {
      const chunks: Uint8Array[] = [];
      let offset = 0;
      initializers = this.initializers.map((tensor) => {
        const bytes = tensor.rawData ?? new Uint8Array();
        if (bytes.length < external.threshold) return tensor;
        const entry: TensorMessage = { ...tensor, rawData: new Uint8Array(), dataLocation: DataLocation.EXTERNAL, externalData: externalEntries(external.location, offset, bytes.length) };
        chunks.push(bytes);
        offset += bytes.length;
        return entry;
      });
      data = Buffer.concat(chunks);
    }
    const model = encodeModel({
      irVersion: BigInt(IR_VERSION),
      producerName: 'easel-make-tiny-models',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: BigInt(OPSET) }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return { model, data };
  }
}

const externalEntries = (location: string, offset: number, length: number) => stringEntries({ location, offset: String(offset), length: String(length) });

/** The name Optimum's export gives a module's node: `/down_blocks.0/attentions.0/…/to_out.0/MatMul`. */
export function nodeNameOf(module: string, opType: string): string {
  const segments: string[] = [];
  for (const part of module.split('.')) {
    if (/^\d+$/.test(part) && segments.length > 0) segments[segments.length - 1] += `.${part}`;
    else segments.push(part);
  }
  return `/${segments.join('/')}/${opType}`;
}
