import type ort from 'onnxruntime-node';
import { ModelLoadError } from './errors.js';
import { floatFeeder, hasOutput, readFloatTensor, requireInput, requireOutput, type FloatFeeder, type FloatTensor } from './onnx-io.js';

/**
 * The VAE halves. Like diffusers' `vae.decode(latents / scaling_factor)`, scaling stays with the
 * pipeline (LoadedModel.vaeScalingFactor): these are the bare networks.
 */

/** `latent_sample` [B,4,h,w] -> `sample` [B,3,8h,8w], pixels roughly in [-1, 1]. */
export class VaeDecoder {
  private readonly feedLatents: FloatFeeder;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {
    this.feedLatents = floatFeeder(requireInput(session, 'latent_sample', file), file);
    requireOutput(session, 'sample', file);
  }

  async decode(latents: FloatTensor): Promise<FloatTensor> {
    const { sample } = await this.session.run({ latent_sample: this.feedLatents(latents) }, ['sample']);
    return readFloatTensor(sample);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * `sample` [B,3,H,W] in [-1, 1] -> the latent distribution's mean [B,4,H/8,W/8]. Optimum exports
 * `latent_parameters` (mean and log-variance stacked on the channel axis); older diffusers exports
 * `latent_sample`. The mean is used as is: the variance of a trained VAE is tiny, and leaving it
 * out keeps img2img deterministic without a second noise stream.
 */
export class VaeEncoder {
  private readonly feedImage: FloatFeeder;
  private readonly output: 'latent_parameters' | 'latent_sample';

  constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {
    this.feedImage = floatFeeder(requireInput(session, 'sample', file), file);
    this.output = hasOutput(session, 'latent_parameters') ? 'latent_parameters' : 'latent_sample';
    requireOutput(session, this.output, file);
  }

  async encode(image: FloatTensor): Promise<FloatTensor> {
    const result = await this.session.run({ sample: this.feedImage(image) }, [this.output]);
    const { data, dims } = readFloatTensor(result[this.output]);
    if (this.output === 'latent_sample') return { data, dims };
    const [batch, channels, height, width] = dims;
    if (channels !== 8) throw new ModelLoadError('MODEL_INVALID', `${this.file}: latent_parameters has ${channels} channels; expected 8 (mean and log-variance)`);
    const plane = 4 * height * width;
    const mean = new Float32Array(batch * plane);
    for (let b = 0; b < batch; b++) mean.set(data.subarray(2 * b * plane, (2 * b + 1) * plane), b * plane);
    return { data: mean, dims: [batch, 4, height, width] };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
