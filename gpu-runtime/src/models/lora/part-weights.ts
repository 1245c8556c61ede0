/**
 * One model part's weights held in memory (a UNet, a text encoder), so that sessions with merged
 * weights can be opened without writing files.
 *
 * onnxruntime-node takes a model from bytes plus `externalData`: in-memory buffers standing in for
 * external data files, all of them once one is given. A Node Buffer holds at most 4 GiB and SDXL's
 * fp16 UNet data is 5 GB, so the part's external data is read as shards of at most SHARD_BYTES,
 * cut between tensors, and the model's initializers are rewritten to point into them. A LoRA set
 * adds one more buffer with just the merged tensors and points the targeted initializers there:
 * the shards are the same Buffer objects for the base and every LoRA set.
 */
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelLoadError } from '../errors.js';
import { indexWeights, type WeightTarget } from './key-map.js';
import { DataType, readGraph, rewriteInitializers, type ExternalTensor, type GraphIndex, type Initializer } from './onnx-wire.js';

export const SHARD_BYTES = 1024 ** 3;
const MERGED_FILE = 'easel-lora-merged.bin';
const ALIGN = 64;

const BYTES_PER_ELEMENT: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.FLOAT16]: 2 };

interface Shard {
  path: string;
  data: Buffer;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export class PartWeights {
  private constructor(
    readonly file: string,
    private readonly model: Uint8Array,
    readonly graph: GraphIndex,
    readonly targets: Map<string, WeightTarget>,
    private readonly shards: Shard[],
    /** Every external initializer's place in the shards. */
    private readonly placements: Map<string, ExternalTensor>,
  ) {}

  /** Bytes held: the model file and every shard. */
  get bytes(): number {
    return this.model.length + this.shards.reduce((sum, shard) => sum + shard.data.length, 0);
  }

  static async read(file: string, shardBytes = SHARD_BYTES): Promise<PartWeights> {
    const model = await readFile(file);
    const graph = readGraph(model);
    const { shards, placements } = await readShards(file, graph, shardBytes);
    return new PartWeights(file, model, graph, indexWeights(graph), shards, placements);
  }

  /** The stored weight as a tensor of its own dtype (fp32 or fp16) and shape. */
  tensor(initializer: Initializer): ort.Tensor {
    const bytes = this.storedBytes(initializer);
    const copy = new Uint8Array(bytes); // shard offsets need not suit a typed array's alignment
    if (initializer.dataType === DataType.FLOAT) return new ort.Tensor('float32', new Float32Array(copy.buffer), initializer.dims);
    if (initializer.dataType === DataType.FLOAT16) return new ort.Tensor('float16', new Uint16Array(copy.buffer), initializer.dims);
    throw new ModelLoadError('MODEL_INVALID', `${this.file}: weight ${initializer.name} has ONNX data type ${initializer.dataType}; LoRAs apply to fp32 and fp16 weights`);
  }

  private storedBytes(initializer: Initializer): Uint8Array {
    const placed = this.placements.get(initializer.name);
    if (!placed) return this.model.subarray(initializer.bytes.offset, initializer.bytes.offset + initializer.bytes.length);
    const shard = this.shards.find((s) => s.path === placed.location)!;
    return shard.data.subarray(placed.offset, placed.offset + placed.length);
  }

  /**
   * Opens a session in which the named initializers hold the given bytes (same dtype and size) and
   * every other weight is read from the shared shards.
   */
  async open(merged: ReadonlyMap<Initializer, Uint8Array>, create: (model: Uint8Array, externalData: Shard[]) => Promise<ort.InferenceSession>): Promise<{ session: ort.InferenceSession; mergedBytes: number }> {
    const replacements = new Map(this.placements);
    const buffer = Buffer.alloc([...merged.values()].reduce((sum, bytes) => sum + align(bytes.length), 0));
    let offset = 0;
    for (const [initializer, bytes] of merged) {
      buffer.set(bytes, offset);
      replacements.set(initializer.name, { name: initializer.name, dims: initializer.dims, dataType: initializer.dataType, location: MERGED_FILE, offset, length: bytes.length });
      offset += align(bytes.length);
    }
    const model = rewriteInitializers(this.model, replacements);
    // onnxruntime refuses an empty buffer: without merged tensors the base shards are all there is.
    const session = await create(model, buffer.length > 0 ? [...this.shards, { path: MERGED_FILE, data: buffer }] : this.shards);
    return { session, mergedBytes: buffer.length };
  }
}

/** Reads each external data file in shards cut between tensors, each at most `shardBytes` (a lone larger tensor gets its own). */
async function readShards(file: string, graph: GraphIndex, shardBytes: number): Promise<{ shards: Shard[]; placements: Map<string, ExternalTensor> }> {
  const byLocation = new Map<string, { initializer: Initializer; offset: number; length: number }[]>();
  for (const initializer of graph.initializers.values()) {
    if (initializer.bytes.kind !== 'external') continue;
    const length =
      initializer.bytes.length >= 0 ? initializer.bytes.length : initializer.dims.reduce((a, b) => a * b, 1) * (BYTES_PER_ELEMENT[initializer.dataType] ?? 1);
    const list = byLocation.get(initializer.bytes.location) ?? [];
    list.push({ initializer, offset: initializer.bytes.offset, length });
    byLocation.set(initializer.bytes.location, list);
  }
  const shards: Shard[] = [];
  const placements = new Map<string, ExternalTensor>();
  for (const [location, tensors] of byLocation) {
    const dataFile = path.join(path.dirname(file), location);
    const handle = await open(dataFile, 'r').catch((error: unknown) => {
      throw new ModelLoadError('MODEL_INCOMPLETE', `${file} keeps its weights in ${location}, which cannot be read: ${(error as Error).message}`, { cause: error });
    });
    try {
      const size = (await handle.stat()).size;
      tensors.sort((a, b) => a.offset - b.offset);
      let group: typeof tensors = [];
      const flush = async () => {
        if (group.length === 0) return;
        const start = group[0].offset;
        const end = Math.max(...group.map((t) => t.offset + t.length));
        if (end > size) throw new ModelLoadError('MODEL_INCOMPLETE', `${dataFile} is ${size} bytes, but ${file} reads up to byte ${end}: the file is truncated`);
        const data = Buffer.allocUnsafe(end - start);
        await handle.read(data, 0, data.length, start);
        const shardPath = `easel-shard-${shards.length}.bin`;
        shards.push({ path: shardPath, data });
        for (const t of group) {
          const { name, dims, dataType } = t.initializer;
          placements.set(name, { name, dims, dataType, location: shardPath, offset: t.offset - start, length: t.length });
        }
        group = [];
      };
      for (const tensor of tensors) {
        if (group.length > 0 && tensor.offset + tensor.length - group[0].offset > shardBytes) await flush();
        group.push(tensor);
      }
      await flush();
    } finally {
      await handle.close();
    }
  }
  return { shards, placements };
}
