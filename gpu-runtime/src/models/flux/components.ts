import ort from 'onnxruntime-node';
import { ModelLoadError } from '../errors.js';
import { floatFeeder, hasInput, hasOutput, readFloats, readFloatTensor, requireInput, requireOutput, type FloatFeeder, type FloatTensor } from '../onnx-io.js';

/**
 * Typed wrappers around Flux's five graphs. Both layouts' names are accepted (Optimum's first,
 * then Black Forest Labs' TensorRT-demo names); dtypes are read from each session's metadata.
 */

type Session = ort.InferenceSession;

function firstOutput(session: Session, file: string, names: string[]): string {
  const name = names.find((candidate) => hasOutput(session, candidate));
  if (!name) requireOutput(session, names[0], file); // throws, listing what the graph has
  return name!;
}

function firstInput(session: Session, file: string, names: string[]): string {
  const name = names.find((candidate) => hasInput(session, candidate));
  if (!name) requireInput(session, names[0], file);
  return name!;
}

function idsFeeder(session: Session, file: string): (ids: Int32Array, dims: number[]) => ort.Tensor {
  const metadata = requireInput(session, 'input_ids', file);
  if (metadata.type === 'int32') return (ids, dims) => new ort.Tensor('int32', ids, dims);
  if (metadata.type === 'int64') return (ids, dims) => new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), dims);
  throw new ModelLoadError('MODEL_INVALID', `${file}: input_ids is ${metadata.type}; expected int32 or int64`);
}

/** A fixed sequence length the graph declares for input_ids, if any. */
function fixedLength(session: Session, file: string): number | undefined {
  const length = requireInput(session, 'input_ids', file).shape[1];
  return typeof length === 'number' ? length : undefined;
}

/** CLIP ViT-L: only its pooled embedding conditions Flux. `input_ids` [B, 77] → [B, 768]. */
export class FluxClipEncoder {
  private readonly feedIds: (ids: Int32Array, dims: number[]) => ort.Tensor;
  private readonly pooled: string;

  constructor(
    private readonly session: Session,
    readonly file: string,
  ) {
    this.feedIds = idsFeeder(session, file);
    this.pooled = firstOutput(session, file, ['pooler_output', 'pooled_embeddings', 'text_embeds']);
  }

  async encode(ids: Int32Array, batch: number): Promise<Float32Array> {
    const result = await this.session.run({ input_ids: this.feedIds(ids, [batch, ids.length / batch]) }, [this.pooled]);
    return readFloats(result[this.pooled]);
  }

  release = () => this.session.release();
}

/** T5-XXL's encoder: `input_ids` [B, 256 or 512] → the sequence [B, L, 4096]. */
export class FluxT5Encoder {
  private readonly feedIds: (ids: Int32Array, dims: number[]) => ort.Tensor;
  private readonly hidden: string;
  readonly fixedLength: number | undefined;

  constructor(
    private readonly session: Session,
    readonly file: string,
  ) {
    this.feedIds = idsFeeder(session, file);
    this.hidden = firstOutput(session, file, ['last_hidden_state', 'text_embeddings']);
    this.fixedLength = fixedLength(session, file);
  }

  async encode(ids: Int32Array, batch: number): Promise<FloatTensor> {
    const result = await this.session.run({ input_ids: this.feedIds(ids, [batch, ids.length / batch]) }, [this.hidden]);
    return readFloatTensor(result[this.hidden]);
  }

  release = () => this.session.release();
}

export interface FluxConditioning {
  /** T5 sequence [B, L, width]. */
  textEmbeddings: FloatTensor;
  /** CLIP pooled [B, 768]. */
  pooled: FloatTensor;
  /** [L, 3] */
  textIds: Float32Array;
  /** [tokens, 3] */
  imageIds: Float32Array;
  /** Distilled guidance (dev); ignored by a graph without a `guidance` input. */
  guidance: number;
}

/** Conditioning in the graph's dtypes, made once per generation. */
export interface PreparedFluxConditioning {
  readonly batch: number;
  readonly feeds: Readonly<Record<string, ort.Tensor>>;
}

/** What the loader reads from a transformer's inputs before anything runs. */
export interface FluxTransformerTraits {
  /** FLUX.1 [dev]: distilled guidance is an input. [schnell] has none. */
  readonly takesGuidance: boolean;
  /** The T5 sequence length the graph is fixed to, if it is. */
  readonly textLength: number | undefined;
  readonly textWidth: number | undefined;
}

/** The traits from the transformer's inputs: a session's metadata, or the graph read from its file (graph-io.ts). */
export function fluxTransformerTraits(inputs: readonly { name: string; shape?: readonly (number | string)[] }[], file: string): FluxTransformerTraits {
  const context = inputs.find((input) => input.name === 'encoder_hidden_states')?.shape;
  if (!context) throw new ModelLoadError('MODEL_INVALID', `${file} has no input "encoder_hidden_states" (it has: ${inputs.map((input) => input.name).join(', ')})`);
  return {
    takesGuidance: inputs.some((input) => input.name === 'guidance'),
    textLength: typeof context[1] === 'number' ? context[1] : undefined,
    textWidth: typeof context[2] === 'number' ? context[2] : undefined,
  };
}

/**
 * The flow transformer: `hidden_states` [B, tokens, 64], `encoder_hidden_states`,
 * `pooled_projections`, `timestep` [B] (σ in [0, 1]: the model scales it by 1000 inside),
 * `img_ids`, `txt_ids`, and for guidance-distilled models (dev) `guidance` [B] → the velocity,
 * shaped like `hidden_states` (`out_hidden_states` in Optimum's export, `latent` in BFL's).
 */
export class FluxTransformer implements FluxTransformerTraits {
  readonly takesGuidance: boolean;
  readonly textLength: number | undefined;
  readonly textWidth: number | undefined;
  private readonly output: string;
  private readonly feeders: Record<string, FloatFeeder>;
  private readonly scalarTimestep: boolean;
  /** The velocity of fp16 graphs, converted into the same buffer on every step. */
  private velocity = new Float32Array(0);

  constructor(
    private readonly session: Session,
    readonly file: string,
  ) {
    const names = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids'];
    ({ takesGuidance: this.takesGuidance, textLength: this.textLength, textWidth: this.textWidth } = fluxTransformerTraits(session.inputMetadata, file));
    if (this.takesGuidance) names.push('guidance');
    // The latents and σ are fed anew on every step: their fp16 conversions reuse one buffer each.
    const perStep = new Set(['hidden_states', 'timestep']);
    this.feeders = Object.fromEntries(names.map((name) => [name, floatFeeder(requireInput(session, name, file), file, { reuse: perStep.has(name) })]));
    this.scalarTimestep = requireInput(session, 'timestep', file).shape.length === 0;
    this.output = firstOutput(session, file, ['out_hidden_states', 'latent']);
  }

  prepare(c: FluxConditioning): PreparedFluxConditioning {
    const batch = c.textEmbeddings.dims[0];
    const feeds: Record<string, ort.Tensor> = {
      encoder_hidden_states: this.feeders.encoder_hidden_states(c.textEmbeddings),
      pooled_projections: this.feeders.pooled_projections(c.pooled),
      txt_ids: this.feeders.txt_ids({ data: c.textIds, dims: [c.textIds.length / 3, 3] }),
      img_ids: this.feeders.img_ids({ data: c.imageIds, dims: [c.imageIds.length / 3, 3] }),
    };
    if (this.takesGuidance) feeds.guidance = this.feeders.guidance({ data: new Float32Array(batch).fill(c.guidance), dims: [batch] });
    return { batch, feeds };
  }

  /** The velocity at σ for packed latents [B, tokens, 64]; valid until the next call. */
  async run(tokens: FloatTensor, sigma: number, conditioning: PreparedFluxConditioning): Promise<Float32Array> {
    const { batch } = conditioning;
    const timestep = this.scalarTimestep ? { data: Float32Array.of(sigma), dims: [] } : { data: new Float32Array(batch).fill(sigma), dims: [batch] };
    const feeds = { ...conditioning.feeds, hidden_states: this.feeders.hidden_states(tokens), timestep: this.feeders.timestep(timestep) };
    const result = await this.session.run(feeds, [this.output]);
    if (this.velocity.length !== tokens.data.length) this.velocity = new Float32Array(tokens.data.length);
    return readFloats(result[this.output], this.velocity);
  }

  release = () => this.session.release();
}

/** [B, 16, h, w] → pixels [B, 3, 8h, 8w] in about [-1, 1]. Optimum: latent_sample → sample; BFL: latent → images. */
export class FluxVaeDecoder {
  private readonly input: string;
  private readonly output: string;
  private readonly feed: FloatFeeder;

  constructor(
    private readonly session: Session,
    readonly file: string,
  ) {
    this.input = firstInput(session, file, ['latent_sample', 'latent']);
    this.output = firstOutput(session, file, ['sample', 'images']);
    this.feed = floatFeeder(requireInput(session, this.input, file), file);
  }

  async decode(latents: FloatTensor): Promise<FloatTensor> {
    const result = await this.session.run({ [this.input]: this.feed(latents) }, [this.output]);
    return readFloatTensor(result[this.output]);
  }

  release = () => this.session.release();
}

/** `sample` [B, 3, H, W] → the latent mean [B, 16, H/8, W/8] (of `latent_parameters`, mean and log-variance stacked). */
export class FluxVaeEncoder {
  private readonly output: string;
  private readonly feed: FloatFeeder;

  constructor(
    private readonly session: Session,
    readonly file: string,
  ) {
    this.feed = floatFeeder(requireInput(session, 'sample', file), file);
    this.output = firstOutput(session, file, ['latent_parameters', 'latent_sample']);
  }

  async encode(image: FloatTensor): Promise<FloatTensor> {
    const result = await this.session.run({ sample: this.feed(image) }, [this.output]);
    const { data, dims } = readFloatTensor(result[this.output]);
    if (this.output === 'latent_sample') return { data, dims };
    const [batch, channels, height, width] = dims;
    const half = channels / 2;
    const plane = half * height * width;
    const mean = new Float32Array(batch * plane);
    for (let b = 0; b < batch; b++) mean.set(data.subarray(2 * b * plane, (2 * b + 1) * plane), b * plane);
    return { data: mean, dims: [batch, half, height, width] };
  }

  release = () => this.session.release();
}
