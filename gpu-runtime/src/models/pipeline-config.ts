import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSchedulerConfig, SchedulerConfigError, type SchedulerConfig } from '../samplers/scheduler-config.js';
import { ModelLoadError } from './errors.js';

/** The layouts the runtime can run; SD 2.x is sd1-shaped (its differences live in the scheduler config). */
export type PipelineArchitecture = 'sd1' | 'sdxl';

/**
 * model_index.json `_class_name` -> layout. Optimum writes the diffusers class (or its ORT twin),
 * diffusers' own ONNX export writes Onnx*; img2img variants of a checkpoint have the same parts.
 */
const PIPELINE_CLASSES: Record<string, PipelineArchitecture> = {
  StableDiffusionPipeline: 'sd1',
  StableDiffusionImg2ImgPipeline: 'sd1',
  LatentConsistencyModelPipeline: 'sd1',
  StableDiffusionXLPipeline: 'sdxl',
  StableDiffusionXLImg2ImgPipeline: 'sdxl',
};

export function architectureOf(pipelineClass: string): PipelineArchitecture | undefined {
  return PIPELINE_CLASSES[pipelineClass.replace(/^(ORT|Onnx)/, '')];
}

export const SUPPORTED_PIPELINE_CLASSES = Object.keys(PIPELINE_CLASSES);

/** Where diffusers' configs omit it, the scaling factor each VAE was trained with. */
const DEFAULT_VAE_SCALING: Record<PipelineArchitecture, number> = { sd1: 0.18215, sdxl: 0.13025 };

export interface PipelineConfig {
  pipelineClass: string;
  architecture: PipelineArchitecture;
  scheduler: SchedulerConfig;
  /** Latents the UNet works on are VAE latents times this. */
  vaeScalingFactor: number;
  /** SDXL: an empty negative prompt conditions on zeros rather than on the encoded "". */
  forceZerosForEmptyPrompt: boolean;
}

export async function readJson(dir: string, relative: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, relative);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelLoadError('MODEL_INCOMPLETE', `${dir} has no ${relative}`, { cause: error });
    throw new ModelLoadError('MODEL_INVALID', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  throw new ModelLoadError('MODEL_INVALID', `${file} should hold a JSON object`);
}

/** The first of these optional files that exists, parsed. */
async function readFirstJson(dir: string, candidates: string[]): Promise<Record<string, unknown> | undefined> {
  for (const relative of candidates) {
    try {
      return await readJson(dir, relative);
    } catch (error) {
      if (!(error instanceof ModelLoadError && error.code === 'MODEL_INCOMPLETE')) throw error;
    }
  }
  return undefined;
}

export async function readPipelineKind(dir: string): Promise<{ pipelineClass: string; architecture: PipelineArchitecture; index: Record<string, unknown> }> {
  const index = await readJson(dir, 'model_index.json');
  const pipelineClass = index._class_name;
  if (typeof pipelineClass !== 'string') throw new ModelLoadError('MODEL_INVALID', `${path.join(dir, 'model_index.json')} has no _class_name`);
  const architecture = architectureOf(pipelineClass);
  if (!architecture) {
    throw new ModelLoadError(
      'MODEL_UNKNOWN_KIND',
      `${dir} is a ${pipelineClass}, which Easel cannot run (it runs ${SUPPORTED_PIPELINE_CLASSES.join(', ')} and their ORT/Onnx exports)`,
    );
  }
  return { pipelineClass, architecture, index };
}

function parseScheduler(dir: string, json: Record<string, unknown>): SchedulerConfig {
  try {
    return parseSchedulerConfig(json);
  } catch (error) {
    if (!(error instanceof SchedulerConfigError)) throw error;
    throw new ModelLoadError('MODEL_INVALID', `${path.join(dir, 'scheduler/scheduler_config.json')}: ${error.message}`, { cause: error });
  }
}

export async function readPipelineConfig(dir: string): Promise<PipelineConfig> {
  const { pipelineClass, architecture, index } = await readPipelineKind(dir);
  const scheduler = parseScheduler(dir, await readJson(dir, 'scheduler/scheduler_config.json'));
  const vae = await readFirstJson(dir, ['vae_decoder/config.json', 'vae/config.json']);
  const scaling = vae?.scaling_factor;
  return {
    pipelineClass,
    architecture,
    scheduler,
    vaeScalingFactor: typeof scaling === 'number' && scaling > 0 ? scaling : DEFAULT_VAE_SCALING[architecture],
    // diffusers' SDXL pipelines default it to true; SD 1.x has no such switch.
    forceZerosForEmptyPrompt: architecture === 'sdxl' && index.force_zeros_for_empty_prompt !== false,
  };
}

/** What the text encoder's config.json says that the graph may not: layer norm epsilon and width. */
export async function readTextEncoderConfig(dir: string, folder: string): Promise<{ layerNormEps: number; hiddenSize?: number }> {
  const config = await readFirstJson(dir, [`${folder}/config.json`]);
  const eps = config?.layer_norm_eps;
  const hidden = config?.hidden_size;
  return {
    layerNormEps: typeof eps === 'number' && eps > 0 ? eps : 1e-5,
    hiddenSize: typeof hidden === 'number' ? hidden : undefined,
  };
}
