/**
 * A LoRA file's tensors grouped into modules, whatever the trainer named them:
 *
 *   kohya / A1111      lora_unet_<module>.lora_down.weight, .lora_up.weight, .alpha   (te, te1, te2)
 *   LyCORIS            the same prefixes with .hada_w1_a … (LoHa), .lokr_w1 … (LoKr), .diff (full)
 *   diffusers / PEFT   unet.<module>.lora_A.weight, .lora_B.weight (or .lora.down/.lora.up),
 *                      text_encoder.…, text_encoder_2.…, with or without base_model.model.
 *
 * Each module says which model part it belongs to (the Optimum folder name) and its module path
 * in kohya's spelling (dots as underscores), the form key-map.ts matches against the graph.
 * Every key ends up in a module or in `unreadKeys`: nothing is dropped without a word.
 */
import type { SafetensorsFile, StoredTensor } from './safetensors.js';

export type ModelPart = 'unet' | 'text_encoder' | 'text_encoder_2';

export type DeltaKind = 'lora' | 'loha' | 'lokr' | 'diff';

export interface LoraModule {
  part: ModelPart;
  /** The module path with underscores: `down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`. */
  module: string;
  /** The key prefix in the file, for messages. */
  key: string;
  kind: DeltaKind;
  /** By role: down/up (lora), hada_w1_a … (loha), lokr_w1 … (lokr), diff. */
  tensors: Record<string, StoredTensor>;
  alpha?: number;
}

export interface LoraContents {
  modules: LoraModule[];
  /** Keys that name no supported kind of delta (Tucker mid weights, DoRA scales, biases, unknown names). */
  unreadKeys: string[];
}

/** Suffix -> role; longest first so `.lora_up.weight` never reads as `.weight`. */
const ROLES: [string, string][] = [
  ['.lora_down.weight', 'down'],
  ['.lora_up.weight', 'up'],
  ['.lora.down.weight', 'down'],
  ['.lora.up.weight', 'up'],
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.alpha', 'alpha'],
  ['.hada_w1_a', 'hada_w1_a'],
  ['.hada_w1_b', 'hada_w1_b'],
  ['.hada_w2_a', 'hada_w2_a'],
  ['.hada_w2_b', 'hada_w2_b'],
  ['.lokr_w1_a', 'lokr_w1_a'],
  ['.lokr_w1_b', 'lokr_w1_b'],
  ['.lokr_w2_a', 'lokr_w2_a'],
  ['.lokr_w2_b', 'lokr_w2_b'],
  ['.lokr_w1', 'lokr_w1'],
  ['.lokr_w2', 'lokr_w2'],
  ['.diff', 'diff'],
  // Known but not applied: a module holding one of these is reported whole, never half-applied.
  ['.lora_mid.weight', 'unsupported'],
  ['.hada_t1', 'unsupported'],
  ['.hada_t2', 'unsupported'],
  ['.lokr_t2', 'unsupported'],
  ['.dora_scale', 'unsupported'],
];

const KOHYA_PARTS: [string, ModelPart][] = [
  ['lora_unet_', 'unet'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te_', 'text_encoder'],
];

const DOTTED_PARTS: [string, ModelPart][] = [
  ['unet.', 'unet'],
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
];

function splitKey(key: string): { prefix: string; role: string } | undefined {
  for (const [suffix, role] of ROLES) if (key.endsWith(suffix)) return { prefix: key.slice(0, -suffix.length), role };
  return undefined;
}

function locate(prefix: string): { part: ModelPart; module: string } | undefined {
  for (const [start, part] of KOHYA_PARTS) if (prefix.startsWith(start)) return { part, module: prefix.slice(start.length) };
  const dotted = prefix.replace(/^base_model\.model\./, '');
  for (const [start, part] of DOTTED_PARTS) if (dotted.startsWith(start)) return { part, module: dotted.slice(start.length).replaceAll('.', '_') };
  return undefined;
}

function kindOf(roles: Record<string, StoredTensor>): DeltaKind | undefined {
  if (roles.unsupported) return undefined;
  if (roles.down && roles.up) return 'lora';
  if (roles.hada_w1_a && roles.hada_w1_b && roles.hada_w2_a && roles.hada_w2_b) return 'loha';
  if ((roles.lokr_w1 || (roles.lokr_w1_a && roles.lokr_w1_b)) && (roles.lokr_w2 || (roles.lokr_w2_a && roles.lokr_w2_b))) return 'lokr';
  if (roles.diff) return 'diff';
  return undefined;
}

function scalar(tensor: StoredTensor, toFloat: (t: StoredTensor) => Float32Array): number {
  return toFloat(tensor)[0];
}

export function readLoraContents(file: SafetensorsFile, toFloat: (t: StoredTensor) => Float32Array): LoraContents {
  const groups = new Map<string, { roles: Record<string, StoredTensor>; keys: string[] }>();
  const unreadKeys: string[] = [];
  for (const [key, tensor] of file.tensors) {
    const split = splitKey(key);
    if (!split) {
      unreadKeys.push(key);
      continue;
    }
    const group = groups.get(split.prefix) ?? { roles: {}, keys: [] };
    group.roles[split.role] = tensor;
    group.keys.push(key);
    groups.set(split.prefix, group);
  }
  const modules: LoraModule[] = [];
  for (const [prefix, { roles, keys }] of groups) {
    const place = locate(prefix);
    const kind = kindOf(roles);
    if (!place || !kind) {
      unreadKeys.push(...keys);
      continue;
    }
    const { alpha, ...tensors } = roles;
    modules.push({ ...place, key: prefix, kind, tensors, alpha: alpha ? scalar(alpha, toFloat) : undefined });
  }
  return { modules, unreadKeys: unreadKeys.sort() };
}
