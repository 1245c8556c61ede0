/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. Nothing in it runs code, which is why it is
 * the only LoRA format accepted: pickled `.ckpt`/`.pt` files can execute anything when loaded.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { bfloat16ToFloat32, float16ToFloat32 } from '../half-precision.js';
import { LoraFileError } from './errors.js';

export type StoredType = 'F32' | 'F16' | 'BF16';

export interface StoredTensor {
  dtype: StoredType;
  shape: number[];
  /** The tensor's bytes, a view into the file. */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
  /**
   * A1111's "Lora hashes" value (addnet_hash_safetensors): sha256 of everything after the header,
   * first 12 hex digits, so that Civitai finds the file from an image's infotext.
   */
  shortHash: string;
}

const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl']);
const DTYPES = new Set<string>(['F32', 'F16', 'BF16']);
const BYTES_PER_ELEMENT: Record<StoredType, number> = { F32: 4, F16: 2, BF16: 2 };

export function parseSafetensors(file: string, data: Uint8Array): SafetensorsFile {
  if (PICKLE_EXTENSIONS.has(path.extname(file).toLowerCase())) {
    throw new LoraFileError(`${file} is a pickled checkpoint, which can run code when read; only .safetensors LoRAs are accepted`);
  }
  // A zip (torch.save) or a raw pickle stream, whatever the name says.
  if ((data[0] === 0x50 && data[1] === 0x4b) || data[0] === 0x80) {
    throw new LoraFileError(`${file} holds a pickle, not safetensors; only .safetensors LoRAs are accepted`);
  }
  if (data.length < 8) throw new LoraFileError(`${file} is not a safetensors file: too short`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > data.length - 8) throw new LoraFileError(`${file} is not a safetensors file: its header length runs past the end`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(data.buffer, data.byteOffset + 8, headerLength).toString('utf8'));
  } catch {
    throw new LoraFileError(`${file} is not a safetensors file: its header is not JSON`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!DTYPES.has(dtype)) throw new LoraFileError(`${file}: tensor ${name} is ${dtype}; LoRA tensors must be F32, F16 or BF16`);
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype as StoredType];
    if (end - begin !== expected || dataStart + end > data.length) throw new LoraFileError(`${file}: tensor ${name} does not fit its shape or the file`);
    tensors.set(name, { dtype: dtype as StoredType, shape, bytes: data.subarray(dataStart + begin, dataStart + end) });
  }
  const shortHash = createHash('sha256').update(data.subarray(dataStart)).digest('hex').slice(0, 12);
  return { tensors, metadata, shortHash };
}

export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw new LoraFileError(`cannot read the LoRA file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseSafetensors(file, data);
}

/** The tensor as float32 values (copied: file offsets need not be aligned). */
export function toFloat32(tensor: StoredTensor): Float32Array {
  const { bytes, dtype } = tensor;
  const copy = new Uint8Array(bytes);
  if (dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.length / 4);
  const halves = new Uint16Array(copy.buffer, 0, copy.length / 2);
  return dtype === 'F16' ? float16ToFloat32(halves) : bfloat16ToFloat32(halves);
}
