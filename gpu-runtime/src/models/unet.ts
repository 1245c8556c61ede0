import type ort from 'onnxruntime-node';
import { ModelLoadError } from './errors.js';
import { floatFeeder, hasInput, readFloats, requireInput, requireOutput, timestepFeeder, type FloatFeeder, type FloatTensor } from './onnx-io.js';

/** What the text side gives the UNet; constant for a whole generation. */
export interface UNetConditioningInput {
  /** [batch, sequenceLength, crossAttentionDim] */
  encoderHiddenStates: FloatTensor;
  /** SDXL: [batch, pooled width], the second encoder's pooled projection. */
  textEmbeds?: FloatTensor;
  /** SDXL: [batch, 6] original size, crop top-left, target size. */
  timeIds?: FloatTensor;
}

/** Conditioning already in the graph's dtypes: made once, fed at every step without conversion. */
export interface UNetConditioning {
  readonly batch: number;
  readonly feeds: Readonly<Record<string, ort.Tensor>>;
}

export interface UNetInput {
  /** [batch, 4, height / 8, width / 8], already scaled by the sampler (c_in). */
  sample: FloatTensor;
  /** The training timestep (0..999), fractional for k-diffusion samplers. */
  timestep: number;
  /** From prepareConditioning(), with the same batch as `sample`. */
  conditioning: UNetConditioning;
}

/**
 * The noise predictor (Optimum names): `sample`, `timestep`, `encoder_hidden_states`, and for
 * SDXL `text_embeds` and `time_ids` -> `out_sample`. Feeders for each input's dtype are chosen
 * once here and the conditioning is converted once per generation, so a step only converts the
 * latents (fp16 models) around `session.run`.
 */
export class UNet {
  /** SDXL-style added conditioning: the graph takes `text_embeds` and `time_ids`. */
  readonly takesSizeConditioning: boolean;
  /** Width of encoder_hidden_states the graph expects (768 SD 1.x, 1024 SD 2.x, 2048 SDXL), when fixed. */
  readonly crossAttentionDim: number | undefined;
  private readonly feedSample: FloatFeeder;
  private readonly feedTimestep: (timestep: number) => ort.Tensor;
  private readonly feedContext: FloatFeeder;
  private readonly feedTextEmbeds?: FloatFeeder;
  private readonly feedTimeIds?: FloatFeeder;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {
    const sample = requireInput(session, 'sample', file);
    const channels = sample.shape[1];
    if (typeof channels === 'number' && channels !== 4) {
      throw new ModelLoadError('MODEL_INVALID', `${file} takes ${channels}-channel latents; only 4-channel (text-to-image) UNets are supported, not inpainting ones`);
    }
    this.feedSample = floatFeeder(sample, file);
    this.feedTimestep = timestepFeeder(requireInput(session, 'timestep', file), file);
    const context = requireInput(session, 'encoder_hidden_states', file);
    this.feedContext = floatFeeder(context, file);
    this.crossAttentionDim = typeof context.shape[2] === 'number' ? context.shape[2] : undefined;
    requireOutput(session, 'out_sample', file);
    this.takesSizeConditioning = hasInput(session, 'text_embeds');
    if (this.takesSizeConditioning) {
      this.feedTextEmbeds = floatFeeder(requireInput(session, 'text_embeds', file), file);
      this.feedTimeIds = floatFeeder(requireInput(session, 'time_ids', file), file);
    }
  }

  /**
   * Converts the text conditioning once per generation: for SDXL in fp16 that is 2×77×2048 values
   * that would otherwise be converted again at every step.
   */
  prepareConditioning(input: UNetConditioningInput): UNetConditioning {
    const feeds: Record<string, ort.Tensor> = { encoder_hidden_states: this.feedContext(input.encoderHiddenStates) };
    if (this.feedTextEmbeds && this.feedTimeIds) {
      if (!input.textEmbeds || !input.timeIds) throw new TypeError(`${this.file} is an SDXL UNet: textEmbeds and timeIds are required`);
      feeds.text_embeds = this.feedTextEmbeds(input.textEmbeds);
      feeds.time_ids = this.feedTimeIds(input.timeIds);
    }
    return { batch: input.encoderHiddenStates.dims[0], feeds };
  }

  /** The predicted noise (or v: whatever the scheduler's prediction type says), shaped like `sample`. */
  async run({ sample, timestep, conditioning }: UNetInput): Promise<Float32Array> {
    if (sample.dims[0] !== conditioning.batch) {
      throw new TypeError(`UNet batch mismatch: sample has ${sample.dims[0]} rows, the conditioning ${conditioning.batch}`);
    }
    const feeds = { ...conditioning.feeds, sample: this.feedSample(sample), timestep: this.feedTimestep(timestep) };
    const { out_sample } = await this.session.run(feeds, ['out_sample']);
    return readFloats(out_sample);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
