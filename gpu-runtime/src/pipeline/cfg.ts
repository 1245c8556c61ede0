/**
 * The denoiser the samplers call: the UNet wrapped in k-diffusion's scalings and classifier-free
 * guidance (Ho & Salimans 2022), with A1111's composable prompts (AND):
 *
 *   D(x, σ) = c_skip·x + c_out·[F_u + s·Σ_j w_j·(F_j − F_u)],   F_· = UNet(c_in·x, t(σ), text_·)
 *
 * one F_j per AND part j with weight w_j (A1111's CFGDenoiser.combine_denoised; guidance is linear
 * in the UNet output, so mixing outputs then scaling gives the same x0 as mixing denoised
 * estimates). The conditioning may change from call to call (prompt editing, alternation): the
 * denoiser counts its calls from 0, as A1111's CFGDenoiser counts `step`, and asks for each
 * call's. When both sides have one length they run as one UNet call (uncond rows first, as
 * diffusers orders them), otherwise as two, A1111's default. When s·Σw = 1 the unconditional
 * term has weight 0 and is not run at all (scale 1 with one part). An output with NaN or infinity
 * (fp16 overflow) stops the generation with a NonFiniteOutputError.
 */
import type { LoadedModel, UNetConditioning } from '../models/index.js';
import { denoiserScalings, type Denoiser, type Discretization } from '../samplers/index.js';
import { unetConditioningInput, type PromptEncoding } from './conditioning.js';
import { allFinite, NonFiniteOutputError } from './errors.js';

/** A step's conditioning, converted to the graph's dtypes once and reused for every call that has it. */
export interface PreparedConditioning {
  weights: readonly number[];
  /** Uncond and cond rows in one batch, when they have one length. */
  both?: UNetConditioning;
  cond?: UNetConditioning;
  uncond?: UNetConditioning;
}

export interface CfgDenoiserOptions {
  model: LoadedModel;
  discretization: Discretization;
  /** The conditioning for the model call numbered `call` (from 0). */
  conditioningAt: (call: number) => Promise<PreparedConditioning>;
  cfgScale: number;
  /** [batch, 4, height / 8, width / 8] of the latents the sampler passes in. */
  latentDims: readonly [number, number, number, number];
  /** Work that can use the JS thread while onnxruntime computes on its own (e.g. the next step's noise). */
  whileModelRuns?: () => void;
}

/** Whether the unconditional prediction counts: its coefficient in D is 1 − s·Σw. */
export function needsUncond(cfgScale: number, weights: readonly number[]): boolean {
  return cfgScale * weights.reduce((a, b) => a + b, 0) !== 1;
}

export function prepareConditioning(model: LoadedModel, encoding: PromptEncoding, cfgScale: number): PreparedConditioning {
  const prepare = (rows: 'cond' | 'uncond' | 'both') => model.unet.prepareConditioning(unetConditioningInput(encoding, rows));
  const { weights } = encoding;
  if (!needsUncond(cfgScale, weights)) return { weights, cond: prepare('cond') };
  if (encoding.sequenceLength === encoding.uncondSequenceLength) return { weights, both: prepare('both') };
  return { weights, cond: prepare('cond'), uncond: prepare('uncond') };
}

export function cfgDenoiser({ model, discretization, conditioningAt, cfgScale, latentDims, whileModelRuns }: CfgDenoiserOptions): Denoiser {
  const [batch, ...perImage] = latentDims;
  const size = latentDims.reduce((a, b) => a * b, 1);
  const imageSize = size / batch;
  const denoised = new Float32Array(size);
  let call = 0;

  /** The scaled latents as UNet rows: with `uncond` first the batch once, then each image once per part. */
  const sampleFor = (x: Float32Array, cIn: number, parts: number, withUncond: boolean) => {
    const rows = (withUncond ? batch : 0) + batch * parts;
    const data = new Float32Array(rows * imageSize);
    let at = 0;
    if (withUncond) for (let i = 0; i < size; i++) data[at++] = cIn * x[i];
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < parts; j++) {
        for (let i = b * imageSize; i < (b + 1) * imageSize; i++) data[at++] = cIn * x[i];
      }
    }
    return { data, dims: [rows, ...perImage] };
  };
  const run = async (sample: { data: Float32Array; dims: number[] }, conditioning: UNetConditioning, timestep: number, sigma: number) => {
    const running = model.unet.run({ sample, timestep, conditioning });
    whileModelRuns?.();
    const out = await running;
    // A NaN never goes away again: stop at the step that made it, not after decoding a black image.
    if (!allFinite(out)) throw new NonFiniteOutputError('unet', `at noise level σ = ${sigma.toPrecision(3)}`);
    return out;
  };

  return async (x, sigma) => {
    const prepared = await conditioningAt(call++);
    const { weights } = prepared;
    const parts = weights.length;
    const { cSkip, cOut, cIn } = denoiserScalings(discretization.predictionType, sigma);
    const timestep = discretization.sigmaToTimestep(sigma);

    // outputs: the uncond rows (or none), then batch × parts cond rows.
    let uncond: Float32Array | undefined;
    let cond: Float32Array;
    if (prepared.both) {
      const out = await run(sampleFor(x, cIn, parts, true), prepared.both, timestep, sigma);
      uncond = out.subarray(0, size);
      cond = out.subarray(size);
    } else {
      cond = await run(sampleFor(x, cIn, parts, false), prepared.cond!, timestep, sigma);
      if (prepared.uncond) uncond = await run(sampleFor(x, cIn, 0, true), prepared.uncond, timestep, sigma);
    }

    for (let b = 0; b < batch; b++) {
      for (let i = b * imageSize; i < (b + 1) * imageSize; i++) {
        const u = uncond ? uncond[i] : 0;
        let guided = u;
        for (let j = 0; j < parts; j++) guided += cfgScale * weights[j] * (cond[(b * parts + j) * imageSize + (i - b * imageSize)] - u);
        denoised[i] = cSkip * x[i] + cOut * guided;
      }
    }
    return denoised;
  };
}
