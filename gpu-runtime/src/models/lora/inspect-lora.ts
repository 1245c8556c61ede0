/**
 * A LoRA file checked without a model, as the catalog does when an admin adds one: it parses as
 * safetensors (pickles refused), its keys group into LoRA modules of a known kind, and at least
 * one module is named as a Stable Diffusion UNet or CLIP text encoder module is (diffusers or SGM
 * block names). Whether each module exists in a given model is only known when it is merged.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sgmCandidates } from './key-map.js';
import { LoraFileError } from './errors.js';
import { readLoraContents, type DeltaKind, type ModelPart } from './lora-file.js';
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
  return { shortHash: parsed.shortHash, sha256, parts, kinds: [...new Set(known.map((module) => module.kind))].sort(), unreadKeys: contents.unreadKeys, unknownModules };
}
