/**
 * The denoiser the samplers call: the UNet wrapped in k-diffusion's scalings and classifier-free
 * guidance (Ho & Salimans 2022).
 *
 *   D(x, σ) = c_skip·x + c_out·[F_u + s·(F_c − F_u)],   F_· = UNet(c_in·x, t(σ), text_·)
 *
 * Guidance is linear in the UNet output, so mixing the outputs and then scaling gives the same x0
 * as mixing two denoised estimates. Both passes run as one UNet call on a batch of 2B rows (the
 * B unconditional rows first, as diffusers orders them); at scale 1 the unconditional half
 * cannot change the result and is not run at all. An output with NaN or infinity (fp16 overflow)
 * stops the generation with a NonFiniteOutputError.
 */
import type { LoadedModel } from '../models/index.js';
import { denoiserScalings, type Denoiser, type Discretization } from '../samplers/index.js';
import { unetConditioningInput, type PromptEncoding } from './conditioning.js';
import { allFinite, NonFiniteOutputError } from './errors.js';

export interface CfgDenoiserOptions {
  model: LoadedModel;
  discretization: Discretization;
  encoding: PromptEncoding;
  cfgScale: number;
  /** [batch, 4, height / 8, width / 8] of the latents the sampler passes in. */
  latentDims: readonly [number, number, number, number];
  /** Work that can use the JS thread while onnxruntime computes on its own (e.g. the next step's noise). */
  whileModelRuns?: () => void;
}

export function cfgDenoiser({ model, discretization, encoding, cfgScale, latentDims, whileModelRuns }: CfgDenoiserOptions): Denoiser {
  const guided = cfgScale !== 1;
  const [batch, ...perImage] = latentDims;
  const size = latentDims.reduce((a, b) => a * b, 1);
  // Everything a step needs is allocated here once: the text conditioning (converted to the
  // graph's dtype once), the UNet input and the denoised output, which samplers may not keep.
  const conditioning = model.unet.prepareConditioning(unetConditioningInput(encoding, guided));
  const sample = { data: new Float32Array(guided ? 2 * size : size), dims: [guided ? 2 * batch : batch, ...perImage] };
  const denoised = new Float32Array(size);

  return async (x, sigma) => {
    const { cSkip, cOut, cIn } = denoiserScalings(discretization.predictionType, sigma);
    const input = sample.data;
    for (let i = 0; i < size; i++) input[i] = cIn * x[i];
    if (guided) input.copyWithin(size, 0, size);

    const running = model.unet.run({ sample, timestep: discretization.sigmaToTimestep(sigma), conditioning });
    whileModelRuns?.();
    const out = await running;
    // A NaN never goes away again: stop at the step that made it, not after decoding a black image.
    if (!allFinite(out)) throw new NonFiniteOutputError('unet', `at noise level σ = ${sigma.toPrecision(3)}`);

    if (guided) {
      for (let i = 0; i < size; i++) {
        const uncond = out[i];
        denoised[i] = cSkip * x[i] + cOut * (uncond + cfgScale * (out[size + i] - uncond));
      }
    } else {
      for (let i = 0; i < size; i++) denoised[i] = cSkip * x[i] + cOut * out[i];
    }
    return denoised;
  };
}
