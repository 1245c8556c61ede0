/**
 * A LoRA file checked without a model, as the catalog does when an admin adds one: it parses as
 * safetensors (pickles refused), its keys group into LoRA modules of a known kind, and at least
 * one module is named as a Stable Diffusion UNet or CLIP text encoder module is (diffusers or SGM
 * block names). Whether each module exists in a given model is only known when it is merged.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Architecture } from '@easel/schema';
import { sgmCandidates } from './key-map.js';
import { LoraFileError } from './errors.js';
import { readLoraContents, type DeltaKind, type LoraModule, type ModelPart } from './lora-file.js';
import { parseSafetensors, toFloat32 } from './safetensors.js';

export { LoraFileError };

export interface LoraFileReport {
  /** A1111's "Lora hashes" value (sha256 of the tensor data, 12 hex digits). */
  shortHash: string;
  /** sha256 of the whole file, as Civitai lists it. */
  sha256: string;
  /** Modules by model part. */
  parts: Partial<Record<ModelPart, number>>;
  kinds: DeltaKind[];
  /** The architecture its module names give away, when they do (see architectureOf). */
  architecture?: Extract<Architecture, 'sd1' | 'sdxl'>;
  /** Keys that no supported kind of delta reads, and modules named unlike any SD module. */
  unreadKeys: string[];
  unknownModules: string[];
}

/** Module paths of diffusers' UNet (kohya spelling); SGM names go through key-map's translation. */
const DIFFUSERS_UNET = /^(down_blocks|mid_block|up_blocks)_|^(conv_in|conv_out|conv_norm_out|time_embedding_linear_\d|add_embedding_linear_\d)$/;
const CLIP_TEXT = /^text_model_(encoder_layers_\d+_|final_layer_norm|embeddings_)/;

function isKnownModule(part: ModelPart, module: string): boolean {
  if (part !== 'unet') return CLIP_TEXT.test(module);
  return DIFFUSERS_UNET.test(module) || sgmCandidates(module).length > 0;
}

/**
 * What the module names say about the model a LoRA was trained on: SDXL has two text encoders
 * (kohya's te1/te2), an add_embedding and up to ten transformer blocks per attention; SD 1.5 has
 * one text encoder (te) and attention in SGM input blocks 1-2 and output blocks 6-11, which SDXL
 * lacks. Undecided (undefined) when nothing tells, or when the signs disagree.
 */
function architectureOf(modules: readonly LoraModule[]): 'sd1' | 'sdxl' | undefined {
  const signs = new Set<'sd1' | 'sdxl'>();
  for (const { part, key, module } of modules) {
    if (part === 'text_encoder_2' || key.startsWith('lora_te1_')) signs.add('sdxl');
    else if (key.startsWith('lora_te_')) signs.add('sd1');
    else if (part === 'unet' && /^add_embedding_|transformer_blocks_[1-9]/.test(module)) signs.add('sdxl');
    else if (part === 'unet' && /^input_blocks_[12]_1_|^output_blocks_([6-9]|1[01])_1_/.test(module)) signs.add('sd1');
  }
  return signs.size === 1 ? [...signs][0] : undefined;
}

const examples = (keys: readonly string[]) => `${keys.slice(0, 3).join(', ')}${keys.length > 3 ? `, … (${keys.length} in all)` : ''}`;

export async function inspectLoraFile(file: string): Promise<LoraFileReport> {
  const bytes = await readFile(file).catch((error: Error) => {
    throw new LoraFileError(`cannot read the LoRA file ${file}: ${error.message}`, { cause: error });
  });
  const parsed = parseSafetensors(file, bytes);
  const contents = readLoraContents(parsed, toFloat32);
  if (contents.modules.length === 0) {
    throw new LoraFileError(`${file} holds no LoRA weights Easel reads (kohya lora_down/lora_up, LyCORIS, diffusers/PEFT lora_A/lora_B): its keys are ${examples(contents.unreadKeys)}`);
  }
  const known = contents.modules.filter((module) => isKnownModule(module.part, module.module));
  const unknownModules = contents.modules.filter((module) => !known.includes(module)).map((module) => module.key);
  if (known.length === 0) {
    throw new LoraFileError(`${file}: none of its modules is named as a Stable Diffusion UNet or text encoder module (diffusers or SGM names), so it would change nothing: ${examples(unknownModules)}`);
  }
  const parts: Partial<Record<ModelPart, number>> = {};
  for (const module of known) parts[module.part] = (parts[module.part] ?? 0) + 1;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    shortHash: parsed.shortHash,
    sha256,
    parts,
    kinds: [...new Set(known.map((module) => module.kind))].sort(),
    architecture: architectureOf(known),
    unreadKeys: contents.unreadKeys,
    unknownModules,
  };
}
