import { readFile } from 'node:fs/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType, type ValueInfoProto } from 'onnx-buf';
import { ModelLoadError } from './errors.js';

/**
 * A graph's declared inputs and outputs, read from its .onnx file with ONNX's published protobuf
 * definitions (onnx-buf), without opening an onnxruntime session: what a loader needs to know of
 * a component it will not keep open (a 24 GB Flux transformer under a memory budget). The file is
 * the graph; weights in external data files are not read.
 */
export interface GraphValue {
  name: string;
  /** ONNX TensorProto.DataType (1 float, 10 float16, 16 bfloat16, 7 int64, …); 0 when not a tensor. */
  elemType: number;
  /** Fixed sizes, or the names of dynamic axes; '?' for an axis with neither. */
  shape: (number | string)[];
}

export interface GraphIo {
  inputs: GraphValue[];
  outputs: GraphValue[];
}

function graphValue({ name, type }: ValueInfoProto): GraphValue {
  if (type?.value.case !== 'tensorType') return { name, elemType: 0, shape: [] };
  const { elemType, shape } = type.value.value;
  const dims = (shape?.dim ?? []).map(({ value }) => (value.case === 'dimValue' ? Number(value.value) : value.case === 'dimParam' ? value.value : '?'));
  return { name, elemType, shape: dims };
}

export async function readGraphIo(file: string): Promise<GraphIo> {
  let graph;
  try {
    graph = fromBinary(ModelProtoSchema, await readFile(file)).graph;
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', `cannot read the ONNX graph ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!graph) throw new ModelLoadError('MODEL_INVALID', `${file} holds no ONNX graph`);
  // Initializers may be listed as inputs too (older exporters): only the ones fed at run time count.
  const initialized = new Set(graph.initializer.map((tensor) => tensor.name));
  return {
    inputs: graph.input.filter((value) => !initialized.has(value.name)).map(graphValue),
    outputs: graph.output.map(graphValue),
  };
}

export const isBfloat16 = (value: GraphValue): boolean => value.elemType === TensorProto_DataType.BFLOAT16;
