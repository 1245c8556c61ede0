import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ClipTokenizer } from '@easel/schema';
import { GpuUnavailableError, ModelLoadError } from './errors.js';
import { modelCache } from './model-cache.js';
import { bfloat16Refusal } from './onnx-io.js';
import { openSession, type ExecutionProvider, type OpenedSession } from './execution-provider.js';
import type { SchedulerConfig } from '../samplers/scheduler-config.js';
import { readPipelineConfig, readPipelineKind, readTextEncoderConfig, type PipelineArchitecture, type PipelineConfig } from './pipeline-config.js';
import { TextEncoder } from './text-encoder.js';
import { UNet } from './unet.js';
import { VaeDecoder, VaeEncoder } from './vae.js';

/** A tokenizer and the encoder it feeds: one for SD 1.x, two for SDXL (CLIP ViT-L, then OpenCLIP bigG). */
export interface TextEncoderStage {
  tokenizer: ClipTokenizer;
  encoder: TextEncoder;
}

/** The files of Optimum's ONNX layout that each architecture cannot run without. */
export const REQUIRED_FILES: Record<PipelineArchitecture, string[]> = {
  sd1: ['scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx'],
  sdxl: [
    'scheduler/scheduler_config.json',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'tokenizer_2/vocab.json',
    'tokenizer_2/merges.txt',
    'text_encoder/model.onnx',
    'text_encoder_2/model.onnx',
    'unet/model.onnx',
    'vae_decoder/model.onnx',
  ],
};
const VAE_ENCODER = 'vae_encoder/model.onnx';

export class LoadedModel {
  readonly architecture: PipelineArchitecture;
  readonly pipelineClass: string;
  readonly scheduler: SchedulerConfig;
  readonly vaeScalingFactor: number;
  readonly forceZerosForEmptyPrompt: boolean;
  /** Set on a model derived with other sessions: only those are its own to release. */
  private ownParts?: { release(): Promise<void> }[];

  constructor(
    readonly dir: string,
    private readonly config: PipelineConfig,
    readonly textEncoders: readonly TextEncoderStage[],
    readonly unet: UNet,
    readonly vaeDecoder: VaeDecoder,
    /** Absent from text-to-image-only exports; img2img asks for it with requireVaeEncoder(). */
    readonly vaeEncoder: VaeEncoder | undefined,
    readonly executionProvider: ExecutionProvider,
  ) {
    this.architecture = config.architecture;
    this.pipelineClass = config.pipelineClass;
    this.scheduler = config.scheduler;
    this.vaeScalingFactor = config.vaeScalingFactor;
    this.forceZerosForEmptyPrompt = config.forceZerosForEmptyPrompt;
  }

  requireVaeEncoder(): VaeEncoder {
    if (!this.vaeEncoder) {
      throw new ModelLoadError('MODEL_INCOMPLETE', `${this.dir} has no ${VAE_ENCODER}, which img2img needs (text-to-image works without it)`);
    }
    return this.vaeEncoder;
  }

  /** The same model with the text encoders and UNet given (merged LoRA weights); the VAE sessions are shared. */
  withSessions(textEncoders: readonly TextEncoderStage[], unet: UNet): LoadedModel {
    const derived = new LoadedModel(this.dir, this.config, textEncoders, unet, this.vaeDecoder, this.vaeEncoder, this.executionProvider);
    const ownEncoders = textEncoders.filter((stage, i) => stage.encoder !== this.textEncoders[i]?.encoder).map((stage) => stage.encoder);
    derived.ownParts = [...ownEncoders, ...(unet === this.unet ? [] : [unet])];
    return derived;
  }

  async release(): Promise<void> {
    if (this.ownParts) {
      await Promise.all(this.ownParts.map((part) => part.release()));
      return;
    }
    const parts = [...this.textEncoders.map((stage) => stage.encoder), this.unet, this.vaeDecoder, ...(this.vaeEncoder ? [this.vaeEncoder] : [])];
    await Promise.all(parts.map((part) => part.release()));
  }
}

const exists = (file: string) => access(file).then(() => true, () => false);

/** The loader's checks without loading: the folder, model_index.json and the files its architecture needs. */
export async function checkFolder(dir: string): Promise<PipelineArchitecture> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new ModelLoadError('MODEL_NOT_FOUND', `model folder ${dir} does not exist`);
  const { architecture } = await readPipelineKind(dir);
  const missing = [];
  for (const file of REQUIRED_FILES[architecture]) if (!(await exists(path.join(dir, file)))) missing.push(file);
  if (missing.length > 0) throw new ModelLoadError('MODEL_INCOMPLETE', `${dir} is incomplete: missing ${missing.join(', ')}`);
  return architecture;
}

async function open(dir: string, relative: string, logger: Logger | undefined): Promise<OpenedSession & { file: string }> {
  const file = path.join(dir, relative);
  try {
    return { ...(await openSession(file, logger)), file };
  } catch (error) {
    if (error instanceof GpuUnavailableError) throw error;
    throw bfloat16Refusal(file, error) ?? new ModelLoadError('MODEL_INVALID', `cannot load ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function openTokenizer(dir: string, folder: string): Promise<ClipTokenizer> {
  try {
    return await ClipTokenizer.fromDirectory(path.join(dir, folder));
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', (error as Error).message, { cause: error });
  }
}

/** Opens every session at once; if any part fails, the ones already open are released. */
async function openAll(dir: string, files: string[], logger: Logger | undefined) {
  const settled = await Promise.allSettled(files.map((file) => open(dir, file, logger)));
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(settled.map((result) => (result.status === 'fulfilled' ? result.value.session.release() : undefined)));
    throw failure.reason;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<OpenedSession & { file: string }>).value);
}

/** Parts from different models (an SD 2 UNet beside an SD 1 encoder) would fail at the first step; say so now. */
function checkContextWidth(unet: UNet, stages: TextEncoderStage[]): void {
  const width = stages.reduce((sum, { encoder }) => sum + encoder.width, 0);
  if (unet.crossAttentionDim !== undefined && unet.crossAttentionDim !== width) {
    const encoders = stages.map(({ encoder }) => `${encoder.file} (${encoder.width})`).join(' + ');
    throw new ModelLoadError('MODEL_INVALID', `${unet.file} expects ${unet.crossAttentionDim}-wide text embeddings but ${encoders} give ${width}`);
  }
}

async function readModel(dir: string, logger: Logger | undefined): Promise<LoadedModel> {
  const started = performance.now();
  const architecture = await checkFolder(dir);
  const config = await readPipelineConfig(dir);
  const encoderFolders = architecture === 'sdxl' ? ['text_encoder', 'text_encoder_2'] : ['text_encoder'];
  const hasVaeEncoder = await exists(path.join(dir, VAE_ENCODER));
  const files = [...encoderFolders.map((folder) => `${folder}/model.onnx`), 'unet/model.onnx', 'vae_decoder/model.onnx', ...(hasVaeEncoder ? [VAE_ENCODER] : [])];
  const sessions = await openAll(dir, files, logger);
  try {
    const textEncoders = await Promise.all(
      encoderFolders.map(async (folder, i): Promise<TextEncoderStage> => {
        const { layerNormEps, hiddenSize } = await readTextEncoderConfig(dir, folder);
        const tokenizer = await openTokenizer(dir, folder.replace('text_encoder', 'tokenizer'));
        return { tokenizer, encoder: new TextEncoder(sessions[i].session, sessions[i].file, layerNormEps, hiddenSize) };
      }),
    );
    const [unetSession, decoder, encoder] = sessions.slice(encoderFolders.length);
    const unet = new UNet(unetSession.session, unetSession.file);
    checkContextWidth(unet, textEncoders);
    const model = new LoadedModel(
      dir,
      config,
      textEncoders,
      unet,
      new VaeDecoder(decoder.session, decoder.file),
      encoder && new VaeEncoder(encoder.session, encoder.file),
      // CUDA for all or none: the provider decision is made once per process.
      sessions[0].provider,
    );
    logger?.info(
      { dir, architecture, pipelineClass: config.pipelineClass, executionProvider: model.executionProvider, ms: Math.round(performance.now() - started) },
      'model loaded',
    );
    return model;
  } catch (error) {
    await Promise.all(sessions.map(({ session }) => session.release()));
    throw error;
  }
}

const cache = modelCache(readModel);

/** Loads a model folder in Optimum's ONNX layout, once per process (see modelCache). */
export const loadModel: (dir: string, options?: { logger?: Logger }) => Promise<LoadedModel> = cache.load;

/** Drops a model from the cache and frees its sessions (GPU memory included). */
export const unloadModel: (dir: string) => Promise<void> = cache.unload;
