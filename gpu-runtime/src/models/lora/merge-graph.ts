/**
 * The merge itself, as a small ONNX graph that onnxruntime runs: for every targeted weight W,
 *
 *   W' = cast(W + reshape(transpose?(Σᵢ scaleᵢ · Δᵢ)))       Δ as the file's kind defines it:
 *
 *   lora   up · down                         (kohya lora_up/lora_down, PEFT lora_B/lora_A)
 *   loha   (w1a · w1b) ⊙ (w2a · w2b)          (LyCORIS Hadamard product)
 *   lokr   w1 ⊗ w2, each factor full or a·b  (LyCORIS Kronecker product)
 *   diff   the full difference
 *
 * Every Δ is the [out, in·kh·kw] matrix of torch's layout (a 3×3 LoCon's down is fed as
 * [rank, in·9]); the target's own layout (MatMul weights stored [in, out]) and dtype are applied
 * last. The graph has no weights of its own: W and the factors are its inputs, so building it
 * costs microseconds and nothing is copied into it.
 */
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { DataType } from './onnx-wire.js';

const { Writer } = protobuf;

export interface Factor {
  values: Float32Array;
  /** 2-D, [rows, columns]. */
  dims: [number, number];
}

export type Delta =
  | { kind: 'lora'; scale: number; up: Factor; down: Factor }
  | { kind: 'loha'; scale: number; w1a: Factor; w1b: Factor; w2a: Factor; w2b: Factor }
  | { kind: 'lokr'; scale: number; w1: Factor | [Factor, Factor]; w2: Factor | [Factor, Factor]; kernel: number }
  | { kind: 'diff'; scale: number; diff: Factor };

export interface MergeTarget {
  /** The stored weight, in its dtype and layout. */
  base: ort.Tensor;
  /** [out, in·kh·kw] of every delta. */
  deltaDims: [number, number];
  transposed: boolean;
  deltas: Delta[];
}

/** A graph under construction: names in, names out; encoded at the end. */
class MergeGraphBuilder {
  private readonly nodes: Uint8Array[] = [];
  private readonly initializers: Uint8Array[] = [];
  private readonly inputs: Uint8Array[] = [];
  private readonly outputs: Uint8Array[] = [];
  readonly feeds: Record<string, ort.Tensor> = {};
  private counter = 0;

  input(tensor: ort.Tensor): string {
    const name = `in${this.counter++}`;
    this.feeds[name] = tensor;
    this.inputs.push(valueInfo(name, tensor.type === 'float16' ? DataType.FLOAT16 : DataType.FLOAT, tensor.dims));
    return name;
  }

  factor(factor: Factor): string {
    return this.input(new ort.Tensor('float32', factor.values, factor.dims));
  }

  op(opType: string, inputs: string[], ints: Record<string, number> = {}): string {
    const output = `v${this.counter++}`;
    const w = Writer.create();
    for (const input of inputs) w.uint32((1 << 3) | 2).string(input);
    w.uint32((2 << 3) | 2).string(output);
    w.uint32((4 << 3) | 2).string(opType);
    for (const [name, value] of Object.entries(ints)) {
      w.uint32((5 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).string(name);
      w.uint32((3 << 3) | 0).int64(value);
      w.uint32((20 << 3) | 0).int32(2);
      w.ldelim();
    }
    this.nodes.push(w.finish());
    return output;
  }

  scalar(value: number): string {
    const name = `c${this.counter++}`;
    this.initializers.push(tensorProto(name, [], 1, new Uint8Array(Float32Array.of(value).buffer)));
    return name;
  }

  shape(dims: readonly number[]): string {
    const name = `s${this.counter++}`;
    this.initializers.push(tensorProto(name, [dims.length], 7, new Uint8Array(BigInt64Array.from(dims, BigInt).buffer)));
    return name;
  }

  output(value: string, dataType: number, dims: readonly number[]): void {
    this.outputs.push(valueInfo(value, dataType, dims));
  }

  encode(): Uint8Array {
    const graph = Writer.create();
    for (const node of this.nodes) graph.uint32((1 << 3) | 2).bytes(node);
    graph.uint32((2 << 3) | 2).string('lora_merge');
    for (const initializer of this.initializers) graph.uint32((5 << 3) | 2).bytes(initializer);
    for (const input of this.inputs) graph.uint32((11 << 3) | 2).bytes(input);
    for (const output of this.outputs) graph.uint32((12 << 3) | 2).bytes(output);
    const model = Writer.create();
    model.uint32((1 << 3) | 0).int64(8);
    model.uint32((7 << 3) | 2).bytes(graph.finish());
    model.uint32((8 << 3) | 2).fork().uint32((2 << 3) | 0).int64(17).ldelim();
    return model.finish();
  }
}

function tensorProto(name: string, dims: number[], dataType: number, raw: Uint8Array): Uint8Array {
  const w = Writer.create();
  for (const d of dims) w.uint32((1 << 3) | 0).int64(d);
  w.uint32((2 << 3) | 0).int32(dataType);
  w.uint32((8 << 3) | 2).string(name);
  w.uint32((9 << 3) | 2).bytes(raw);
  return w.finish();
}

function valueInfo(name: string, elemType: number, dims: readonly number[]): Uint8Array {
  const shape = Writer.create();
  for (const d of dims) shape.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 0).int64(d).ldelim();
  const tensorType = Writer.create().uint32((1 << 3) | 0).int32(elemType).uint32((2 << 3) | 2).bytes(shape.finish()).finish();
  const type = Writer.create().uint32((1 << 3) | 2).bytes(tensorType).finish();
  return Writer.create().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).bytes(type).finish();
}

function product(g: MergeGraphBuilder, pair: Factor | [Factor, Factor]): { value: string; dims: [number, number] } {
  if (!Array.isArray(pair)) return { value: g.factor(pair), dims: pair.dims };
  return { value: g.op('MatMul', [g.factor(pair[0]), g.factor(pair[1])]), dims: [pair[0].dims[0], pair[1].dims[1]] };
}

/** Δ as a [out, in·k] float32 value in the graph. */
function deltaValue(g: MergeGraphBuilder, delta: Delta, out: [number, number]): string {
  switch (delta.kind) {
    case 'lora':
      return g.op('MatMul', [g.factor(delta.up), g.factor(delta.down)]);
    case 'loha':
      return g.op('Mul', [g.op('MatMul', [g.factor(delta.w1a), g.factor(delta.w1b)]), g.op('MatMul', [g.factor(delta.w2a), g.factor(delta.w2b)])]);
    case 'lokr': {
      // kron(A[a,b], B[c,d·k]) = reshape(A[a,1,b,1,1] ⊙ B[1,c,1,d,k], [a·c, b·d·k])
      const w1 = product(g, delta.w1);
      const w2 = product(g, delta.w2);
      const [a, b] = w1.dims;
      const [c, dk] = w2.dims;
      const d = dk / delta.kernel;
      const left = g.op('Reshape', [w1.value, g.shape([a, 1, b, 1, 1])]);
      const right = g.op('Reshape', [w2.value, g.shape([1, c, 1, d, delta.kernel])]);
      return g.op('Reshape', [g.op('Mul', [left, right]), g.shape(out)]);
    }
    case 'diff':
      return g.factor(delta.diff);
  }
}

/** Builds the merge of every target into one graph; outputs come back in the targets' order. */
export function buildMergeGraph(targets: readonly MergeTarget[]): { model: Uint8Array; feeds: Record<string, ort.Tensor>; outputs: string[] } {
  const g = new MergeGraphBuilder();
  const outputs = targets.map((target) => {
    let sum: string | undefined;
    for (const delta of target.deltas) {
      const scaled = g.op('Mul', [deltaValue(g, delta, target.deltaDims), g.scalar(delta.scale)]);
      sum = sum ? g.op('Add', [sum, scaled]) : scaled;
    }
    if (!sum) throw new Error('a merge target without deltas');
    const oriented = target.transposed ? g.op('Transpose', [sum], {}) : sum;
    const shaped = g.op('Reshape', [oriented, g.shape(target.base.dims)]);
    const half = target.base.type === 'float16';
    const base = g.input(target.base);
    const merged = g.op('Add', [half ? g.op('Cast', [base], { to: DataType.FLOAT }) : base, shaped]);
    const result = half ? g.op('Cast', [merged], { to: DataType.FLOAT16 }) : merged;
    g.output(result, half ? DataType.FLOAT16 : DataType.FLOAT, target.base.dims);
    return result;
  });
  return { model: g.encode(), feeds: g.feeds, outputs };
}

/** Runs the merge on onnxruntime's CPU provider; returns each merged weight's bytes. */
export async function runMerge(targets: readonly MergeTarget[]): Promise<Uint8Array[]> {
  const { model, feeds, outputs } = buildMergeGraph(targets);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'basic' });
  try {
    const results = await session.run(feeds, outputs);
    return outputs.map((name) => {
      const data = results[name].data as Float32Array | Uint16Array;
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    });
  } finally {
    await session.release();
  }
}
