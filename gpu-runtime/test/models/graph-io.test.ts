import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { TensorProto_DataType } from 'onnx-buf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGraphIo } from '../../src/models/graph-io.js';
import { makeTinyModels } from '../../src/tiny-models/index.js';

let root: string;
let dirs: Awaited<ReturnType<typeof makeTinyModels>>;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-graph-io-'));
  dirs = await makeTinyModels(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** onnxruntime's names for the ONNX data types the tiny models use. */
const ORT_TYPE: Record<number, string> = { [TensorProto_DataType.FLOAT]: 'float32', [TensorProto_DataType.FLOAT16]: 'float16', [TensorProto_DataType.INT64]: 'int64', [TensorProto_DataType.INT32]: 'int32' };

describe("reading a graph's inputs and outputs from its file", () => {
  // The reference is onnxruntime's own session metadata for the same file.
  it.each([
    ['tiny-flux', 'transformer/model.onnx'],
    ['tiny-flux', 'text_encoder_2/model.onnx'],
    ['tiny-sdxl', 'unet/model.onnx'],
    ['tiny-sd15', 'unet/model.onnx'],
  ] as const)('%s %s: the names, dtypes and shapes onnxruntime reports', async (model, relative) => {
    const file = path.join(dirs[model], relative);
    const session = await ort.InferenceSession.create(file);
    try {
      const io = await readGraphIo(file);
      const asOrt = (values: typeof io.inputs) => values.map(({ name, elemType, shape }) => ({ name, type: ORT_TYPE[elemType], shape }));
      const fromSession = (values: readonly ort.InferenceSession.ValueMetadata[]) =>
        values.map((value) => (value.isTensor ? { name: value.name, type: value.type, shape: value.shape } : { name: value.name }));
      expect(asOrt(io.inputs)).toEqual(fromSession(session.inputMetadata));
      expect(asOrt(io.outputs)).toEqual(fromSession(session.outputMetadata));
    } finally {
      await session.release();
    }
  });

  it('says which file is not an ONNX graph', async () => {
    const file = path.join(root, 'not-a-graph.onnx');
    await writeFile(file, 'not a graph onnxruntime can run');
    await expect(readGraphIo(file)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(`cannot read the ONNX graph ${file}`) });
  });
});
