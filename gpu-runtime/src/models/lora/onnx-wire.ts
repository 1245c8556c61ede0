/**
 * ONNX model files at the protobuf wire level, for the two things LoRA merging needs: reading the
 * graph's nodes and initializers (names, shapes, where each weight's bytes are), and rewriting
 * chosen initializers to point at other external data. Everything else in the file is copied byte
 * for byte, so fields this module does not know survive the rewrite.
 *
 * Field numbers are onnx.proto's (IR 8): ModelProto.graph 7; GraphProto.node 1, initializer 5;
 * NodeProto input 1, output 2, name 3, op_type 4; TensorProto dims 1, data_type 2, name 8,
 * raw_data 9, external_data 13 (key 1, value 2), data_location 14.
 */
import protobuf from 'protobufjs';

const { Reader, Writer } = protobuf;

const LENGTH_DELIMITED = 2;
const VARINT = 0;

export const DataType = { FLOAT: 1, FLOAT16: 10, BFLOAT16: 16 } as const;

export interface GraphNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (Gemm's transB is the one that matters here). */
  ints: Record<string, number>;
}

/** Where an initializer's bytes are: inside the model file, or in an external data file. */
export type TensorBytes = { kind: 'raw'; offset: number; length: number } | { kind: 'external'; location: string; offset: number; length: number };

export interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  bytes: TensorBytes;
}

export interface GraphIndex {
  nodes: GraphNode[];
  initializers: Map<string, Initializer>;
}

interface Field {
  number: number;
  wireType: number;
  /** The whole field, tag included, as it sits in the parent message. */
  start: number;
  end: number;
  /** Payload of a length-delimited field. */
  bodyStart: number;
}

function fields(bytes: Uint8Array, start = 0, end = bytes.length): Field[] {
  const reader = Reader.create(bytes.subarray(0, end));
  reader.pos = start;
  const result: Field[] = [];
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    const tag = reader.uint32();
    const wireType = tag & 7;
    let bodyStart = reader.pos;
    if (wireType === LENGTH_DELIMITED) {
      const length = reader.uint32();
      bodyStart = reader.pos;
      reader.pos += length;
    } else {
      reader.skipType(wireType);
    }
    result.push({ number: tag >>> 3, wireType, start: fieldStart, end: reader.pos, bodyStart });
  }
  return result;
}

const text = (bytes: Uint8Array, field: Field) => Buffer.from(bytes.buffer, bytes.byteOffset + field.bodyStart, field.end - field.bodyStart).toString('utf8');

function varint(bytes: Uint8Array, field: Field): number {
  const reader = Reader.create(bytes);
  reader.pos = field.start;
  reader.uint32();
  return Number(reader.int64());
}

/** Repeated int64, packed or not. */
function int64s(bytes: Uint8Array, field: Field, into: number[]): void {
  const reader = Reader.create(bytes.subarray(0, field.end));
  if (field.wireType === VARINT) {
    into.push(varint(bytes, field));
    return;
  }
  reader.pos = field.bodyStart;
  while (reader.pos < field.end) into.push(Number(reader.int64()));
}

function graphField(model: Uint8Array): Field {
  const graph = fields(model).find((f) => f.number === 7 && f.wireType === LENGTH_DELIMITED);
  if (!graph) throw new Error('not an ONNX model: it has no graph');
  return graph;
}

function readNode(bytes: Uint8Array, field: Field): GraphNode {
  const node: GraphNode = { name: '', opType: '', inputs: [], outputs: [], ints: {} };
  for (const f of fields(bytes, field.bodyStart, field.end)) {
    if (f.number === 1) node.inputs.push(text(bytes, f));
    else if (f.number === 2) node.outputs.push(text(bytes, f));
    else if (f.number === 3) node.name = text(bytes, f);
    else if (f.number === 4) node.opType = text(bytes, f);
    else if (f.number === 5) {
      const attribute = fields(bytes, f.bodyStart, f.end);
      const name = attribute.find((a) => a.number === 1);
      const value = attribute.find((a) => a.number === 3 && a.wireType === VARINT);
      if (name && value) node.ints[text(bytes, name)] = varint(bytes, value);
    }
  }
  return node;
}

function readInitializer(bytes: Uint8Array, field: Field): Initializer {
  const dims: number[] = [];
  let name = '';
  let dataType = 0;
  let raw: Field | undefined;
  const external: Record<string, string> = {};
  for (const f of fields(bytes, field.bodyStart, field.end)) {
    if (f.number === 1) int64s(bytes, f, dims);
    else if (f.number === 2) dataType = varint(bytes, f);
    else if (f.number === 8) name = text(bytes, f);
    else if (f.number === 9) raw = f;
    else if (f.number === 13) {
      const entry = fields(bytes, f.bodyStart, f.end);
      const key = entry.find((e) => e.number === 1);
      const value = entry.find((e) => e.number === 2);
      if (key && value) external[text(bytes, key)] = text(bytes, value);
    }
  }
  const bytesAt: TensorBytes =
    external.location !== undefined
      ? { kind: 'external', location: external.location, offset: Number(external.offset ?? 0), length: Number(external.length ?? -1) }
      : { kind: 'raw', offset: raw?.bodyStart ?? 0, length: raw ? raw.end - raw.bodyStart : 0 };
  return { name, dims, dataType, bytes: bytesAt };
}

/** The graph's nodes and initializers (a main graph's; subgraphs of If/Loop are not looked into). */
export function readGraph(model: Uint8Array): GraphIndex {
  const graph = graphField(model);
  const nodes: GraphNode[] = [];
  const initializers = new Map<string, Initializer>();
  for (const f of fields(model, graph.bodyStart, graph.end)) {
    if (f.number === 1) nodes.push(readNode(model, f));
    else if (f.number === 5) {
      const initializer = readInitializer(model, f);
      initializers.set(initializer.name, initializer);
    }
  }
  return { nodes, initializers };
}

export interface ExternalTensor {
  name: string;
  dims: number[];
  dataType: number;
  location: string;
  offset: number;
  length: number;
}

/** A TensorProto whose data is external (data_location EXTERNAL). */
function encodeExternalTensor(tensor: ExternalTensor): Uint8Array {
  const w = Writer.create();
  for (const d of tensor.dims) w.uint32((1 << 3) | VARINT).int64(d);
  w.uint32((2 << 3) | VARINT).int32(tensor.dataType);
  w.uint32((8 << 3) | LENGTH_DELIMITED).string(tensor.name);
  for (const [key, value] of [
    ['location', tensor.location],
    ['offset', String(tensor.offset)],
    ['length', String(tensor.length)],
  ]) {
    w.uint32((13 << 3) | LENGTH_DELIMITED).fork();
    w.uint32((1 << 3) | LENGTH_DELIMITED).string(key);
    w.uint32((2 << 3) | LENGTH_DELIMITED).string(value);
    w.ldelim();
  }
  w.uint32((14 << 3) | VARINT).int32(1);
  return w.finish();
}

function lengthDelimited(number: number, body: Uint8Array): Uint8Array {
  return Writer.create()
    .uint32((number << 3) | LENGTH_DELIMITED)
    .bytes(body)
    .finish();
}

/**
 * The model with the named initializers replaced by external ones; every other byte of the file
 * is kept. Replacing a tensor that was stored inline drops its inline bytes.
 */
export function rewriteInitializers(model: Uint8Array, replacements: ReadonlyMap<string, ExternalTensor>): Uint8Array {
  const graph = graphField(model);
  const graphParts: Uint8Array[] = [];
  for (const f of fields(model, graph.bodyStart, graph.end)) {
    const name = f.number === 5 ? readInitializer(model, f).name : undefined;
    const replacement = name === undefined ? undefined : replacements.get(name);
    graphParts.push(replacement ? lengthDelimited(5, encodeExternalTensor(replacement)) : model.subarray(f.start, f.end));
  }
  const modelParts = fields(model).map((f) => (f === graph || (f.start === graph.start) ? lengthDelimited(7, Buffer.concat(graphParts)) : model.subarray(f.start, f.end)));
  return Buffer.concat(modelParts);
}
