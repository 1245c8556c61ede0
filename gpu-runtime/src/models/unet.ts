import type ort from 'onnxruntime-node';
import { ModelLoadError } from './errors.js';
import { floatFeeder, hasInput, readFloats, requireInput, requireOutput, timestepFeeder, type FloatFeeder, type FloatTensor } from './onnx-io.js';

export interface UNetInput {
  /** [batch, 4, height / 8, width / 8], already scaled by the sampler (c_in). */
  sample: FloatTensor;
  /** The training timestep (0..999), fractional for k-diffusion samplers. */
  timestep: number;
  /** [batch, sequenceLength, crossAttentionDim] */
  encoderHiddenStates: FloatTensor;
  /** SDXL: [batch, pooled width], the second encoder's pooled projection. */
  textEmbeds?: FloatTensor;
  /** SDXL: [batch, 6] original size, crop top-left, target size. */
  timeIds?: FloatTensor;
}

/**
 * The noise predictor (Optimum names): `sample`, `timestep`, `encoder_hidden_states`, and for
 * SDXL `text_embeds` and `time_ids` -> `out_sample`. Feeders for each input's dtype are chosen
 * once here, so `run` is a few allocations around `session.run`.
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

  /** The predicted noise (or v, or x0: whatever the model's prediction_type says), shaped like `sample`. */
  async run(input: UNetInput): Promise<Float32Array> {
    const feeds: Record<string, ort.Tensor> = {
      sample: this.feedSample(input.sample),
      timestep: this.feedTimestep(input.timestep),
      encoder_hidden_states: this.feedContext(input.encoderHiddenStates),
    };
    if (this.feedTextEmbeds && this.feedTimeIds) {
      if (!input.textEmbeds || !input.timeIds) throw new TypeError(`${this.file} is an SDXL UNet: textEmbeds and timeIds are required`);
      feeds.text_embeds = this.feedTextEmbeds(input.textEmbeds);
      feeds.time_ids = this.feedTimeIds(input.timeIds);
    }
    const { out_sample } = await this.session.run(feeds, ['out_sample']);
    return readFloats(out_sample);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
