/**
 * Tiny LoRA files for the tiny models, with known matrices: every layer a real LoRA could target
 * is read from the tiny model's own graph (the same index the loader matches against), and each
 * gets seeded factors of the chosen kind, under the key names a trainer would write:
 *
 *   kohya   lora_unet_down_blocks_0_…_to_q.lora_down.weight        (lora_te_, or lora_te1_/lora_te2_ for SDXL)
 *   sgm     lora_unet_input_blocks_1_1_…_to_q.lora_down.weight     (SDXL trainers on SGM's UNet names)
 *   peft    unet.down_blocks.0.….to_q.lora_A.weight                (diffusers / PEFT)
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { indexWeights, readGraph, type WeightTarget } from '../models/lora/index.js';
import { float32ToFloat16 } from '../models/half-precision.js';
import { WeightRandom } from './random.js';

export type TinyLoraKind = 'lora' | 'loha' | 'lokr' | 'diff';
export type TinyLoraNaming = 'kohya' | 'sgm' | 'peft';

export interface TinyLoraOptions {
  kind: TinyLoraKind;
  naming?: TinyLoraNaming;
  rank?: number;
  /** Written as `.alpha`; the delta is scaled by alpha / rank. */
  alpha?: number;
  seed?: number;
  /** Standard deviation of the factors. */
  std?: number;
  /** Only the layers whose kohya module name passes (default: all). */
  filter?: (module: string, part: string) => boolean;
  /** Store the factors in half precision, as most published LoRAs are. */
  float16?: boolean;
}

export interface SafetensorsTensor {
  shape: number[];
  values: Float32Array;
}

const PARTS = ['text_encoder', 'text_encoder_2', 'unet'] as const;

/** Every LoRA-targetable layer of a model folder, per part. */
export async function loraTargets(modelDir: string): Promise<{ part: (typeof PARTS)[number]; target: WeightTarget }[]> {
  const result: { part: (typeof PARTS)[number]; target: WeightTarget }[] = [];
  for (const part of PARTS) {
    const bytes = await readFile(path.join(modelDir, part, 'model.onnx')).catch(() => undefined);
    if (!bytes) continue;
    for (const target of indexWeights(readGraph(bytes)).values()) result.push({ part, target });
  }
  return result;
}

/** diffusers' UNet names -> SGM's, for the layers a tiny model has (the inverse of key-map's sgmCandidates). */
export function sgmName(module: string): string {
  let m = /^down_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)$/.exec(module);
  if (m) {
    const i = 3 * Number(m[1]) + Number(m[3]) + 1;
    return m[2] === 'attentions' ? `input_blocks_${i}_1_${m[4]}` : `input_blocks_${i}_0_${m[4] === 'conv1' ? 'in_layers_2' : m[4]}`;
  }
  m = /^mid_block_attentions_0_(.+)$/.exec(module);
  if (m) return `middle_block_1_${m[1]}`;
  m = /^up_blocks_(\d+)_attentions_(\d+)_(.+)$/.exec(module);
  if (m) return `output_blocks_${3 * Number(m[1]) + Number(m[2])}_1_${m[3]}`;
  return module === 'conv_in' ? 'input_blocks_0_0' : module;
}

function keyPrefix(part: string, target: WeightTarget, naming: TinyLoraNaming, sdxl: boolean): string {
  if (naming === 'peft') return `${part}.${target.path}`;
  const te = sdxl ? (part === 'text_encoder' ? 'lora_te1_' : 'lora_te2_') : 'lora_te_';
  if (part !== 'unet') return te + target.module;
  return `lora_unet_${naming === 'sgm' ? sgmName(target.module) : target.module}`;
}

/** The smallest factor of n above 1 (n itself when prime). */
const smallestFactor = (n: number) => [2, 3, 5, 7].find((f) => n % f === 0 && f < n) ?? n;

export async function buildTinyLora(modelDir: string, options: TinyLoraOptions): Promise<Record<string, SafetensorsTensor>> {
  const { kind, naming = 'kohya', rank = 4, seed = 7, std = 0.3 } = options;
  const random = new WeightRandom(seed);
  const targets = await loraTargets(modelDir);
  const sdxl = targets.some(({ part }) => part === 'text_encoder_2');
  const tensors: Record<string, SafetensorsTensor> = {};
  const add = (name: string, shape: number[]) => {
    tensors[name] = { shape, values: random.normal(shape.reduce((a, b) => a * b, 1), std) };
  };
  for (const { part, target } of targets) {
    if (options.filter && !options.filter(target.module, part)) continue;
    const dims = target.initializer.dims;
    const [out, inFeatures] = target.transposed ? [dims[1], dims[0]] : [dims[0], dims[1]];
    const kernel = dims.slice(2);
    const prefix = keyPrefix(part, target, naming, sdxl);
    const alpha = () => {
      if (options.alpha !== undefined) tensors[`${prefix}.alpha`] = { shape: [], values: Float32Array.of(options.alpha) };
    };
    if (kind === 'lora') {
      const [down, up] = naming === 'peft' ? ['lora_A.weight', 'lora_B.weight'] : ['lora_down.weight', 'lora_up.weight'];
      add(`${prefix}.${down}`, [rank, inFeatures, ...kernel]);
      add(`${prefix}.${up}`, [out, rank, ...kernel.map(() => 1)]);
      alpha();
    } else if (kind === 'loha') {
      const flat = inFeatures * kernel.reduce((a, b) => a * b, 1);
      add(`${prefix}.hada_w1_a`, [out, rank]);
      add(`${prefix}.hada_w1_b`, [rank, flat]);
      add(`${prefix}.hada_w2_a`, [out, rank]);
      add(`${prefix}.hada_w2_b`, [rank, flat]);
      alpha();
    } else if (kind === 'lokr') {
      const [a, b] = [smallestFactor(out), smallestFactor(inFeatures)];
      add(`${prefix}.lokr_w1`, [a, b]);
      add(`${prefix}.lokr_w2`, [out / a, inFeatures / b, ...kernel]);
    } else {
      add(`${prefix}.diff`, [out, inFeatures, ...kernel]);
    }
  }
  return tensors;
}

/** Serializes tensors as safetensors (F32, or F16 with `float16`), keys sorted as the reference writer does. */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, options: { float16?: boolean; metadata?: Record<string, string> } = {}): Uint8Array {
  const header: Record<string, unknown> = options.metadata ? { __metadata__: options.metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const { shape, values } = tensors[name];
    const data = options.float16 ? float32ToFloat16(values) : values;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: options.float16 ? 'F16' : 'F32', shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), ...chunks]);
}

/** The demo LoRA of each tiny model: a rank-4 kohya LoRA over all its layers, written once into `lorasDir`. */
export async function writeDemoLoras(models: Record<string, string>, lorasDir: string): Promise<{ model: string; name: string; file: string }[]> {
  await mkdir(lorasDir, { recursive: true });
  const written: { model: string; name: string; file: string }[] = [];
  for (const [model, dir] of Object.entries(models)) {
    const name = `${model}-demo`;
    const file = `${name}.safetensors`;
    const bytes = encodeSafetensors(await buildTinyLora(dir, { kind: 'lora', rank: 4, alpha: 4, std: 0.2 }), { float16: true, metadata: { ss_output_name: name } });
    // Unique name, then rename: parallel writers never leave half a file.
    const staging = path.join(lorasDir, `.${file}.${process.pid}-${Math.random().toString(36).slice(2)}`);
    await writeFile(staging, bytes);
    await rename(staging, path.join(lorasDir, file));
    written.push({ model, name, file });
  }
  return written;
}
