/**
 * Text-to-image and image-to-image for FLUX.1 [schnell] and [dev], read top to bottom:
 *
 *   load the model → encode the prompt (CLIP pooled + T5 sequence) → the flow schedule (shifted
 *   for dev) → initial latents (seeded noise, blended with the encoded base image for img2img)
 *   → flow-matching Euler, one transformer call per step → unpack → VAE decode → PNG
 *
 * Flux is guidance-distilled: no classifier-free guidance and no negative prompt; [dev] takes its
 * distilled guidance as a transformer input. Attention weights `(word:1.3)` have no meaning to T5
 * and none to CLIP's pooled output: the prompt is read as plain text (see plainPromptText).
 */
import { plainPromptText, samplerRefusal, type ClipTokenizer, type GenerationSettings, type ModelRef } from '@easel/schema';
import { ModelLoadError } from '../../models/errors.js';
import { loadFluxModel, type FluxModel } from '../../models/flux/index.js';
import { flowMatchEuler, flowMatchSigmas, ImageNoise } from '../../samplers/index.js';
import { allFinite, GenerationCancelledError, InvalidRequestError, NonFiniteOutputError } from '../errors.js';
import { img2imgSigmas, loadBaseImage } from '../img2img.js';
import { formatParameters } from '../parameters.js';
import { encodePng, PARAMETERS_KEYWORD, vaePixelsToRgb } from '../png.js';
import { ProgressReporter } from '../preview.js';
import type { GenerateOptions, GeneratedImage } from '../generation-output.js';
import { toModelLatents, toVaeLatents } from './vae-scaling.js';
import { FLUX_LATENT_CHANNELS, imageIds, imageTokenCount, packLatents, textIds, TOKEN_FEATURES, unpackLatents, type LatentShape } from './packing.js';

/** FLUX.1 [dev]'s default distilled guidance (diffusers' FluxPipeline, Forge's "Distilled CFG Scale"). */
export const DEFAULT_FLUX_GUIDANCE = 3.5;
const VAE_SCALE = 8;
/** Latents are packed in 2×2 patches of the 1/8-size latent, so sizes step by 16 pixels. */
const SIZE_STEP = VAE_SCALE * 2;

export interface FluxRequest {
  settings: GenerationSettings;
  modelRef: ModelRef;
  modelDir: string;
  baseImage?: Uint8Array;
}

export async function generateFlux(request: FluxRequest, { onProgress, signal }: GenerateOptions = {}): Promise<GeneratedImage[]> {
  const { settings, modelRef } = request;
  checkSettings(settings);
  const { width, height, batchSize, steps } = settings;
  const shape: LatentShape = { batch: batchSize, height: height / VAE_SCALE, width: width / VAE_SCALE };
  const perImage = FLUX_LATENT_CHANNELS * shape.height * shape.width;
  const tokens = imageTokenCount(shape);
  const seeds = Array.from({ length: batchSize }, (_, i) => settings.seed + i);
  throwIfCancelled(signal, 0, steps);

  // 1. The model: resident sessions are cached; with a memory budget, each stage loads its own.
  const model = await loadFlux(request.modelDir, modelRef);
  const guidance = guidanceFor(model, settings, modelRef);

  // 2. Text conditioning: CLIP's pooled embedding and T5's sequence, computed once for the batch.
  const text = plainPromptText(settings.prompt);
  const pooled = await model.with('clip', (clip) => clip.encode(clipIds(model.clipTokenizer, text), 1));
  const sequence = await model.with('t5', (t5) => t5.encode(model.t5Tokenizer.encodePadded(text, model.textLength).ids, 1));
  throwIfCancelled(signal, 0, steps);

  // 3. The noise levels: the flow schedule, shifted by resolution for dev; img2img runs its tail.
  const fullSchedule = flowMatchSigmas(model.flow, steps, tokens);
  const sigmas = request.baseImage ? img2imgSigmas(fullSchedule, settings.denoiseStrength) : fullSchedule;
  const totalSteps = sigmas.length - 1;

  // 4. Initial latents, packed into tokens: x = (1 − σ0)·x0 + σ0·ε, which is pure noise at σ0 = 1.
  // The seeds draw as for SD (source, variation seed); flow Euler adds no noise after the first.
  const imageNoise = new ImageNoise({
    source: settings.rngSource,
    seeds,
    shape: [FLUX_LATENT_CHANNELS, shape.height, shape.width],
    subseeds: seeds.map((_, i) => settings.subseed + i),
    subseedStrength: settings.subseedStrength,
  });
  const noise = packLatents(imageNoise.first(), shape);
  const start = request.baseImage ? await encodeBaseImage(model, request.baseImage, width, height) : undefined;
  const sigma0 = sigmas[0];
  const latents = start ? noise.map((n, i) => (1 - sigma0) * start[i % start.length] + sigma0 * n) : noise;

  // 5. Flow-matching Euler, one transformer call per step.
  // Previews map the packed tokens as they are (no unpacking in the loop).
  const progress = new ProgressReporter({ onProgress, totalSteps, previewEvery: settings.previewEvery, architecture: 'flux', latentWidth: shape.width, latentHeight: shape.height, layout: 'packed' });
  try {
    const final = await model.with('transformer', async (transformer) => {
      const conditioning = transformer.prepare({
        textEmbeddings: tile(sequence, batchSize),
        pooled: tile({ data: pooled, dims: [1, pooled.length] }, batchSize),
        textIds: textIds(sequence.dims[1]),
        imageIds: imageIds(shape.height, shape.width),
        guidance,
      });
      const dims = [batchSize, tokens, TOKEN_FEATURES];
      return flowMatchEuler(
        async (x, sigma) => {
          const pending = transformer.run({ data: x, dims }, sigma, conditioning);
          progress.drawPendingPreview(); // while the transformer runs
          const velocity = await pending;
          if (!allFinite(velocity)) throw new NonFiniteOutputError('transformer', `at σ = ${sigma.toFixed(4)}`);
          return velocity;
        },
        latents,
        {
          sigmas,
          onStep: (i, _x, denoised) => {
            progress.report(i + 1, denoised);
            throwIfCancelled(signal, i + 1, totalSteps);
          },
        },
      );
    });

    // 6. Unpack, undo the VAE scaling and shift, decode each image and write it as a PNG.
    const unpacked = unpackLatents(final, shape);
    const infotext = (seed: number) =>
      formatParameters({
        ...settings,
        negativePrompt: '',
        seed,
        model: modelRef.name,
        guidance: model.variant === 'dev' ? guidance : undefined,
        denoiseStrength: request.baseImage ? settings.denoiseStrength : undefined,
      });
    const images = await model.with('vaeDecoder', async (decoder) => {
      const pending: Promise<GeneratedImage>[] = [];
      for (let i = 0; i < batchSize; i++) {
        const z = toVaeLatents(unpacked.subarray(i * perImage, (i + 1) * perImage), model.vae);
        const { data, dims } = await decoder.decode({ data: z, dims: [1, FLUX_LATENT_CHANNELS, shape.height, shape.width] });
        if (dims[2] !== height || dims[3] !== width) throw new Error(`${decoder.file} decoded ${shape.width}x${shape.height} latents to ${dims[3]}x${dims[2]}; expected ${width}x${height}`);
        if (!allFinite(data)) throw new NonFiniteOutputError('vae_decoder', `for the image of seed ${seeds[i]}`);
        const rgb = vaePixelsToRgb(data, 0, width, height);
        pending.push(encodePng(rgb, width, height, { [PARAMETERS_KEYWORD]: infotext(seeds[i]) }).then((png) => ({ png, seed: seeds[i], width, height })));
      }
      return Promise.all(pending);
    });
    await progress.finish();
    return images;
  } catch (error) {
    await progress.settle();
    throw error;
  }
}

/** A catalog entry that names a folder of another architecture would otherwise fail deep inside; say so now. */
async function loadFlux(dir: string, modelRef: ModelRef): Promise<FluxModel> {
  try {
    return await loadFluxModel(dir);
  } catch (error) {
    if (!(error instanceof ModelLoadError && error.code === 'MODEL_UNKNOWN_KIND')) throw error;
    throw new InvalidRequestError(`model "${modelRef.name}" is listed as ${modelRef.family} (flux), but ${error.message}`, { cause: error });
  }
}

function checkSettings(settings: GenerationSettings): void {
  const refusal = samplerRefusal('FLUX', settings);
  if (refusal) throw new InvalidRequestError(refusal);
  for (const side of ['width', 'height'] as const) {
    if (settings[side] % SIZE_STEP !== 0) throw new InvalidRequestError(`${side}: Flux sizes must be multiples of ${SIZE_STEP} (got ${settings[side]})`);
  }
}

function guidanceFor(model: FluxModel, settings: GenerationSettings, modelRef: ModelRef): number {
  if (model.variant === 'dev') return settings.guidance ?? DEFAULT_FLUX_GUIDANCE;
  if (settings.guidance !== undefined) {
    throw new InvalidRequestError(`guidance: "${modelRef.name}" is a FLUX.1 [schnell]-type model, which takes no distilled guidance; leave guidance out`);
  }
  return 0;
}

/** CLIP's 77 ids as diffusers' FluxPipeline makes them: BOS, the text cut to fit, EOS, padding. */
function clipIds(tokenizer: ClipTokenizer, text: string): Int32Array {
  const length = tokenizer.modelMaxLength;
  const ids = new Int32Array(length).fill(tokenizer.padTokenId);
  const body = tokenizer.encode(text).slice(0, length - 2);
  ids[0] = tokenizer.bosTokenId;
  ids.set(body, 1);
  ids[body.length + 1] = tokenizer.eosTokenId;
  return ids;
}

/** One image's conditioning repeated for the batch. */
function tile({ data, dims }: { data: Float32Array; dims: readonly number[] }, batch: number) {
  const out = new Float32Array(data.length * batch);
  for (let b = 0; b < batch; b++) out.set(data, b * data.length);
  return { data: out, dims: [batch, ...dims.slice(1)] };
}

/** The base image as the transformer sees latents: the VAE mean, shifted and scaled, packed. */
async function encodeBaseImage(model: FluxModel, image: Uint8Array, width: number, height: number): Promise<Float32Array> {
  if (!model.hasVaeEncoder) {
    throw new InvalidRequestError(`${model.dir} has no VAE encoder (vae_encoder/model.onnx), which img2img needs; BFL's ONNX exports ship the decoder only`);
  }
  const pixels = await loadBaseImage(image, width, height);
  const { data, dims } = await model.with('vaeEncoder', (encoder) => encoder.encode({ data: pixels, dims: [1, 3, height, width] }));
  if (dims[1] !== FLUX_LATENT_CHANNELS) throw new InvalidRequestError(`${model.dir}: the VAE encoder gives ${dims[1]}-channel latents; Flux needs ${FLUX_LATENT_CHANNELS}`);
  return packLatents(toModelLatents(data, model.vae), { batch: 1, height: dims[2], width: dims[3] });
}

function throwIfCancelled(signal: AbortSignal | undefined, step: number, totalSteps: number): void {
  if (signal?.aborted) throw new GenerationCancelledError(step, totalSteps);
}
