/**
 * A model with a set of LoRAs merged into its weights:
 *
 *   read each file -> group its keys into modules -> find each module's weight in the graph
 *   -> scale each delta (weight · alpha / rank) -> merge with onnxruntime -> open sessions
 *
 * Parts no LoRA touches keep the base model's sessions; the VAE always does. A key that matches
 * no weight, or whose shape does not fit it, is reported in `unmatched` (and logged by the
 * caller); it never fails the job, as in A1111.
 */
import path from 'node:path';
import type ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { openSession } from '../execution-provider.js';
import type { LoadedModel, TextEncoderStage } from '../load-model.js';
import { UNet } from '../unet.js';
import { LoraFileError } from './errors.js';
import { findTarget, type WeightTarget } from './key-map.js';
import { readLoraContents, type LoraModule, type ModelPart } from './lora-file.js';
import { runMerge, type Delta, type Factor, type MergeTarget } from './merge-graph.js';
import type { Initializer } from './onnx-wire.js';
import type { PartWeights } from './part-weights.js';
import { readSafetensors, toFloat32, type StoredTensor } from './safetensors.js';

export interface LoraChoice {
  /** The name the prompt used, for messages and the infotext. */
  name: string;
  /** Absolute path of the .safetensors file. */
  file: string;
  /** The file's sha256 (from the catalog, checked by the handler): the cache key follows the content, not the path. */
  sha256?: string;
  /** Multiplier for the text encoders, and for the UNet unless `unetWeight` is given (A1111's `<lora:name:te:unet>`). */
  weight: number;
  unetWeight?: number;
}

export interface AppliedLora {
  name: string;
  /** A1111's short hash of the file, for the infotext's "Lora hashes". */
  hash: string;
  /** Modules merged into the model. */
  applied: number;
  /** Keys of the file that changed nothing, each with why. */
  unmatched: string[];
}

export interface LoraSet {
  model: LoadedModel;
  loras: AppliedLora[];
  /** Bytes of merged weights held by this set's sessions. */
  mergedBytes: number;
}

/** Largest total of base weights fed to one merge run. */
const MERGE_CHUNK_BYTES = 256 * 1024 ** 2;

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function matrix(tensor: StoredTensor): Factor {
  return { values: toFloat32(tensor), dims: [tensor.shape[0], product(tensor.shape.slice(1))] };
}

/** The delta's [out, in·k] shape in torch's layout for this target. */
function deltaDims(target: WeightTarget): [number, number] {
  const dims = target.initializer.dims;
  return target.transposed ? [dims[1], dims[0]] : [dims[0], product(dims.slice(1))];
}

function buildDelta(module: LoraModule, multiplier: number, target: [number, number], kernel: number): { delta: Delta; dims: [number, number] } {
  const t = module.tensors;
  const rankScale = (rank: number) => multiplier * (module.alpha ?? rank) / rank;
  switch (module.kind) {
    case 'lora': {
      const [down, up] = [matrix(t.down), matrix(t.up)];
      return { delta: { kind: 'lora', scale: rankScale(down.dims[0]), up, down }, dims: [up.dims[0], down.dims[1]] };
    }
    case 'loha': {
      const [w1a, w1b, w2a, w2b] = [matrix(t.hada_w1_a), matrix(t.hada_w1_b), matrix(t.hada_w2_a), matrix(t.hada_w2_b)];
      return { delta: { kind: 'loha', scale: rankScale(w1b.dims[0]), w1a, w1b, w2a, w2b }, dims: [w1a.dims[0], w1b.dims[1]] };
    }
    case 'lokr': {
      const w1: Factor | [Factor, Factor] = t.lokr_w1 ? matrix(t.lokr_w1) : [matrix(t.lokr_w1_a), matrix(t.lokr_w1_b)];
      const w2: Factor | [Factor, Factor] = t.lokr_w2 ? matrix(t.lokr_w2) : [matrix(t.lokr_w2_a), matrix(t.lokr_w2_b)];
      const outer = (f: Factor | [Factor, Factor]): [number, number] => (Array.isArray(f) ? [f[0].dims[0], f[1].dims[1]] : f.dims);
      const [[a, b], [c, dk]] = [outer(w1), outer(w2)];
      const decomposed = Array.isArray(w1) ? w1[1] : Array.isArray(w2) ? w2[1] : undefined;
      const scale = decomposed ? rankScale(decomposed.dims[0]) : multiplier;
      // The kernel belongs to w2 (w1 is always 2-D); only when the sizes agree does the Kronecker product fit.
      const fits = dk % kernel === 0 && a * c === target[0] && b * dk === target[1];
      return { delta: { kind: 'lokr', scale, w1, w2, kernel: fits ? kernel : 1 }, dims: [a * c, b * dk] };
    }
    case 'diff': {
      const diff = matrix(t.diff);
      return { delta: { kind: 'diff', scale: multiplier, diff }, dims: diff.dims };
    }
  }
}

const PART_FILES: Record<ModelPart, string> = {
  unet: 'unet/model.onnx',
  text_encoder: 'text_encoder/model.onnx',
  text_encoder_2: 'text_encoder_2/model.onnx',
};

export interface ApplyOptions {
  logger?: Logger;
  /** The part's weights in memory, shared between LoRA sets (lora-cache.ts keeps them). */
  partWeights: (file: string) => Promise<PartWeights>;
}

export async function applyLoras(base: LoadedModel, choices: readonly LoraChoice[], options: ApplyOptions): Promise<LoraSet> {
  const parts: ModelPart[] = base.textEncoders.length === 2 ? ['text_encoder', 'text_encoder_2', 'unet'] : ['text_encoder', 'unet'];
  const perPart = new Map<ModelPart, Map<Initializer, { target: WeightTarget; deltas: Delta[] }>>();
  const loras: AppliedLora[] = [];
  const weights = new Map<ModelPart, PartWeights>();

  for (const choice of choices) {
    const file = await readSafetensors(choice.file);
    const contents = readLoraContents(file, toFloat32);
    const report: AppliedLora = { name: choice.name, hash: file.shortHash, applied: 0, unmatched: contents.unreadKeys.map((key) => `${key} (not a LoRA weight Easel reads)`) };
    for (const module of contents.modules) {
      if (!parts.includes(module.part)) {
        report.unmatched.push(`${module.key} (this model has no ${module.part})`);
        continue;
      }
      if (!weights.has(module.part)) weights.set(module.part, await options.partWeights(path.join(base.dir, PART_FILES[module.part])));
      const target = findTarget(weights.get(module.part)!.targets, module.module, module.part === 'unet');
      if (!target) {
        report.unmatched.push(`${module.key} (no such layer in ${PART_FILES[module.part]})`);
        continue;
      }
      const multiplier = module.part === 'unet' ? (choice.unetWeight ?? choice.weight) : choice.weight;
      const dims = deltaDims(target);
      const kernel = target.transposed ? 1 : product(target.initializer.dims.slice(2));
      const built = buildDelta(module, multiplier, dims, kernel);
      if (built.dims[0] !== dims[0] || built.dims[1] !== dims[1]) {
        report.unmatched.push(`${module.key} (its ${built.dims.join('×')} change does not fit the ${dims.join('×')} weight: a LoRA for another model?)`);
        continue;
      }
      report.applied++;
      if (multiplier === 0) continue;
      const merges = perPart.get(module.part) ?? new Map();
      const entry = merges.get(target.initializer) ?? { target, deltas: [] };
      entry.deltas.push(built.delta);
      merges.set(target.initializer, entry);
      perPart.set(module.part, merges);
    }
    if (report.applied === 0) {
      throw new LoraFileError(`the LoRA "${choice.name}" (${path.basename(choice.file)}) matches no layer of this model: ${report.unmatched.slice(0, 3).join('; ')}`);
    }
    loras.push(report);
  }

  let mergedBytes = 0;
  const sessions = new Map<ModelPart, ort.InferenceSession>();
  try {
    for (const [part, merges] of perPart) {
      const partWeights = weights.get(part)!;
      const merged = await mergeAll(partWeights, [...merges.values()]);
      const opened = await partWeights.open(merged, async (model, externalData) => (await openSession(partWeights.file, options.logger, process.env, { model, externalData })).session);
      sessions.set(part, opened.session);
      mergedBytes += opened.mergedBytes;
    }
  } catch (error) {
    await Promise.all([...sessions.values()].map((session) => session.release()));
    throw error;
  }

  const textEncoders = base.textEncoders.map((stage, i): TextEncoderStage => {
    const session = sessions.get(i === 0 ? 'text_encoder' : 'text_encoder_2');
    return session ? { tokenizer: stage.tokenizer, encoder: stage.encoder.withSession(session) } : stage;
  });
  const unetSession = sessions.get('unet');
  const unet = unetSession ? new UNet(unetSession, base.unet.file) : base.unet;
  return { model: base.withSessions(textEncoders, unet), loras, mergedBytes };
}

/** Merges in runs of at most MERGE_CHUNK_BYTES of base weights. */
async function mergeAll(weights: PartWeights, merges: { target: WeightTarget; deltas: Delta[] }[]): Promise<Map<Initializer, Uint8Array>> {
  const result = new Map<Initializer, Uint8Array>();
  let chunk: { target: WeightTarget; deltas: Delta[] }[] = [];
  let chunkBytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const targets: MergeTarget[] = chunk.map(({ target, deltas }) => ({ base: weights.tensor(target.initializer), deltaDims: deltaDims(target), transposed: target.transposed, deltas }));
    const outputs = await runMerge(targets);
    chunk.forEach(({ target }, i) => result.set(target.initializer, outputs[i]));
    chunk = [];
    chunkBytes = 0;
  };
  for (const merge of merges) {
    const bytes = product(merge.target.initializer.dims) * 4;
    if (chunkBytes + bytes > MERGE_CHUNK_BYTES) await flush();
    chunk.push(merge);
    chunkBytes += bytes;
  }
  await flush();
  return result;
}
