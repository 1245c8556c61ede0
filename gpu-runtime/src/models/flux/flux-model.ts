import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ClipTokenizer, T5Tokenizer } from '@easel/schema';
import { DEV_FLOW_CONFIG, parseFlowMatchConfig, SCHNELL_FLOW_CONFIG, type FlowMatchConfig } from '../../samplers/index.js';
import { GpuUnavailableError, ModelLoadError } from '../errors.js';
import { openSession, type ExecutionProvider } from '../execution-provider.js';
import { modelCache } from '../model-cache.js';
import { isBfloat16, readGraphIo } from '../graph-io.js';
import { bfloat16Error, bfloat16Refusal } from '../onnx-io.js';
import { FluxClipEncoder, fluxTransformerTraits, FluxT5Encoder, FluxTransformer, FluxVaeDecoder, FluxVaeEncoder, type FluxTransformerTraits } from './components.js';
import { FLUX_FP16_INSTEAD, quantisedError, quantisedPrecisionIn, resolveFluxLayout, type FluxLayout } from './layout.js';

/** Flux's VAE: the transformer works on (latent − shift)·scale. */
export interface FluxVaeFactors {
  scalingFactor: number;
  shiftFactor: number;
}
const FLUX_VAE: FluxVaeFactors = { scalingFactor: 0.3611, shiftFactor: 0.1159 };

/** T5 sequence lengths of the two FLUX.1 models (diffusers' max_sequence_length). */
const TEXT_LENGTH = { schnell: 256, dev: 512 } as const;

/**
 * How the five sessions live in memory:
 * - `resident`: all stay open, so a warm function loads nothing (when the GPU holds them all);
 * - `sequential`: each opens when its stage starts and is released when it ends (T5 right after
 *   encoding), so the peak is the largest component plus its activations.
 */
export type Residency = 'resident' | 'sequential';

type Component = 'clip' | 't5' | 'transformer' | 'vaeDecoder' | 'vaeEncoder';
interface Components {
  clip: FluxClipEncoder;
  t5: FluxT5Encoder;
  transformer: FluxTransformer;
  vaeDecoder: FluxVaeDecoder;
  vaeEncoder: FluxVaeEncoder;
}
const WRAPPERS: { [K in Component]: new (session: import('onnxruntime-node').InferenceSession, file: string) => Components[K] } = {
  clip: FluxClipEncoder,
  t5: FluxT5Encoder,
  transformer: FluxTransformer,
  vaeDecoder: FluxVaeDecoder,
  vaeEncoder: FluxVaeEncoder,
};

export class FluxModel {
  readonly architecture = 'flux' as const;
  private readonly open = new Map<Component, Promise<Components[Component]>>();
  executionProvider: ExecutionProvider | undefined;

  constructor(
    readonly dir: string,
    readonly layout: FluxLayout,
    readonly variant: 'schnell' | 'dev',
    readonly flow: FlowMatchConfig,
    readonly vae: FluxVaeFactors,
    readonly clipTokenizer: ClipTokenizer,
    readonly t5Tokenizer: T5Tokenizer,
    /** T5 tokens per prompt, padding included. */
    readonly textLength: number,
    readonly residency: Residency,
    /** Bytes on disk of each component's weights (graph plus external data). */
    readonly componentBytes: Readonly<Record<Component, number>>,
    private readonly logger?: Logger,
  ) {}

  /** The components whose sessions are open now. */
  get loadedComponents(): Component[] {
    return [...this.open.keys()];
  }

  get hasVaeEncoder(): boolean {
    return this.layout.vaeEncoder !== undefined;
  }

  /**
   * Runs `use` with a component's session: kept open when resident, opened for the call and
   * released after it when sequential.
   */
  async with<K extends Component, T>(component: K, use: (part: Components[K]) => Promise<T>): Promise<T> {
    const part = await this.acquire(component);
    try {
      return await use(part);
    } finally {
      if (this.residency === 'sequential') await this.releaseComponent(component);
    }
  }

  /** Keeps a component opened elsewhere (a resident model's loader opens the transformer first, for its traits). */
  adopt<K extends Component>(component: K, part: Components[K]): void {
    this.open.set(component, Promise.resolve(part));
  }

  /** Opens the sessions a resident model keeps, all at once. */
  async openAll(): Promise<void> {
    const parts: Component[] = ['clip', 't5', 'transformer', 'vaeDecoder', ...(this.hasVaeEncoder ? (['vaeEncoder'] as const) : [])];
    const settled = await Promise.allSettled(parts.map((part) => this.acquire(part)));
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) {
      await this.release();
      throw failure.reason;
    }
  }

  async release(): Promise<void> {
    await Promise.all([...this.open.keys()].map((component) => this.releaseComponent(component)));
  }

  private acquire<K extends Component>(component: K): Promise<Components[K]> {
    let opening = this.open.get(component) as Promise<Components[K]> | undefined;
    if (!opening) {
      opening = this.openComponent(component);
      this.open.set(component, opening);
      opening.catch(() => this.open.delete(component));
    }
    return opening;
  }

  private async releaseComponent(component: Component): Promise<void> {
    const opening = this.open.get(component);
    if (!opening) return;
    this.open.delete(component);
    const part = await opening.catch(() => undefined);
    await part?.release();
  }

  private async openComponent<K extends Component>(component: K): Promise<Components[K]> {
    const file = component === 'vaeEncoder' ? this.layout.vaeEncoder : this.layout[component];
    if (!file) {
      throw new ModelLoadError('MODEL_INCOMPLETE', `${this.dir} has no VAE encoder (vae_encoder/model.onnx), which img2img needs (text-to-image works without it)`);
    }
    const started = performance.now();
    const { session, provider } = await openFluxSession(file, this.logger);
    this.executionProvider = provider;
    try {
      const part = new WRAPPERS[component](session, file);
      this.logger?.debug({ file, ms: Math.round(performance.now() - started) }, 'flux component loaded');
      return part;
    } catch (error) {
      await session.release();
      throw error;
    }
  }
}

async function openFluxSession(file: string, logger: Logger | undefined) {
  try {
    return await openSession(file, logger);
  } catch (error) {
    if (error instanceof GpuUnavailableError) throw error;
    const message = (error as Error).message;
    const precision = quantisedPrecisionIn(message);
    if (precision) throw quantisedError(file, precision);
    const bfloat16 = bfloat16Refusal(file, error, FLUX_FP16_INSTEAD);
    if (bfloat16) throw bfloat16;
    throw new ModelLoadError('MODEL_INVALID', `cannot load ${file}: ${message}`, { cause: error });
  }
}

async function openTransformer(file: string, logger: Logger | undefined): Promise<FluxTransformer> {
  const { session } = await openFluxSession(file, logger);
  try {
    return new FluxTransformer(session, file);
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** The transformer's traits from its graph file, with the dtype check onnxruntime would make on opening it. */
async function transformerTraitsFromFile(file: string): Promise<FluxTransformerTraits> {
  const { inputs, outputs } = await readGraphIo(file);
  if ([...inputs, ...outputs].some(isBfloat16)) throw bfloat16Error(file, FLUX_FP16_INSTEAD);
  return fluxTransformerTraits(inputs, file);
}

/** A graph's bytes: the .onnx file and the external data beside it (BFL and Optimum keep one component per folder). */
async function componentSize(file: string | undefined): Promise<number> {
  if (!file) return 0;
  const folder = path.dirname(file);
  const entries = await readdir(folder).catch(() => [] as string[]);
  const sizes = await Promise.all(entries.filter((name) => !name.endsWith('.json')).map((name) => stat(path.join(folder, name)).then((s) => (s.isFile() ? s.size : 0), () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

async function readOptionalJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

async function readVaeFactors(layout: FluxLayout): Promise<FluxVaeFactors> {
  for (const file of layout.vaeConfigs) {
    const config = await readOptionalJson(file);
    if (!config) continue;
    const scaling = config.scaling_factor;
    const shift = config.shift_factor;
    return {
      scalingFactor: typeof scaling === 'number' && scaling > 0 ? scaling : FLUX_VAE.scalingFactor,
      shiftFactor: typeof shift === 'number' ? shift : FLUX_VAE.shiftFactor,
    };
  }
  return FLUX_VAE;
}

async function openTokenizers(layout: FluxLayout) {
  try {
    return await Promise.all([ClipTokenizer.fromDirectory(layout.clipTokenizer), T5Tokenizer.fromDirectory(layout.t5Tokenizer)]);
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', (error as Error).message, { cause: error });
  }
}

/** EASEL_MODEL_MEMORY_MB: what the models may take on the device; unset means "all of it fits". */
export function memoryBudgetBytes(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.EASEL_MODEL_MEMORY_MB;
  if (value === undefined || value === '') return undefined;
  const mb = Number(value);
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`EASEL_MODEL_MEMORY_MB must be a positive number of megabytes, got ${JSON.stringify(value)}`);
  return mb * 1024 * 1024;
}

async function readFluxModel(dir: string, logger: Logger | undefined): Promise<FluxModel> {
  const started = performance.now();
  const layout = await resolveFluxLayout(dir);
  const [clipTokenizer, t5Tokenizer] = await openTokenizers(layout);
  const vae = await readVaeFactors(layout);
  const componentBytes = {
    clip: await componentSize(layout.clip),
    t5: await componentSize(layout.t5),
    transformer: await componentSize(layout.transformer),
    vaeDecoder: await componentSize(layout.vaeDecoder),
    vaeEncoder: await componentSize(layout.vaeEncoder),
  };
  const budget = memoryBudgetBytes();
  const total = Object.values(componentBytes).reduce((a, b) => a + b, 0);
  const residency: Residency = budget === undefined || total <= budget ? 'resident' : 'sequential';

  // The transformer's inputs say which FLUX.1 this is: [dev] takes distilled guidance. A resident
  // model keeps the session it opens for them; a sequential one reads them from the graph file,
  // rather than loading its largest component only to release it.
  const transformer = residency === 'resident' ? await openTransformer(layout.transformer, logger) : undefined;
  const traits = transformer ?? (await transformerTraitsFromFile(layout.transformer));
  const variant = traits.takesGuidance ? 'dev' : 'schnell';
  const schedulerJson = await readOptionalJson(layout.schedulerConfig);
  let flow: FlowMatchConfig;
  try {
    flow = schedulerJson ? parseFlowMatchConfig(schedulerJson) : variant === 'dev' ? DEV_FLOW_CONFIG : SCHNELL_FLOW_CONFIG;
  } catch (error) {
    throw new ModelLoadError('MODEL_INVALID', `${layout.schedulerConfig}: ${(error as Error).message}`, { cause: error });
  }
  const textLength = traits.textLength ?? TEXT_LENGTH[variant];
  const model = new FluxModel(dir, layout, variant, flow, vae, clipTokenizer, t5Tokenizer, textLength, residency, componentBytes, logger);
  if (transformer) {
    // Keep the session already open for the metadata, then open the rest.
    model.adopt('transformer', transformer);
    await model.openAll();
  }
  logger?.info({ dir, layout: layout.kind, variant, residency, ms: Math.round(performance.now() - started) }, 'flux model loaded');
  return model;
}

const cache = modelCache(readFluxModel);

/** Loads a Flux folder once per process (see modelCache). */
export const loadFluxModel: (dir: string, options?: { logger?: Logger }) => Promise<FluxModel> = cache.load;

export const unloadFluxModel: (dir: string) => Promise<void> = cache.unload;
