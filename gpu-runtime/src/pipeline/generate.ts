/**
 * Text-to-image and image-to-image for SD 1.x and SDXL-family models, read top to bottom (Flux
 * models go to their own pipeline, flux/generate-flux.ts):
 *
 *   load the model → schedule and encode the prompts → choose the sigmas → initial latents (seeded
 *   noise, plus the encoded base image for img2img) → sample with the guided denoiser → (hires fix:
 *   upscale, then a second img2img pass at the larger size) → VAE decode → PNG
 *
 * The UNet's output is checked at every step and each decoded image once: NaN or infinity (fp16
 * overflow) fails the generation with a NonFiniteOutputError instead of giving a black image.
 *
 * Image i of a batch uses seed + i (and variation seed + i) for all of its noise, drawn as A1111
 * draws it from the chosen source (samplers/random), so it comes out the same whatever the batch
 * size; the same request on the same machine gives the same bytes.
 */
import { z } from 'zod';
import { FAMILY_ARCHITECTURE } from '@easel/schema';
import { GenerationSettings, ModelRef } from '@easel/schema';
import type { Logger } from 'pino';
import type { ModelFamily } from '@easel/schema';
import { loadFluxModel } from '../models/flux/index.js';
import { loadModel, type LoadedModel } from '../models/index.js';
import { loraCache, type AppliedLora, type LoraChoice } from '../models/lora/index.js';
import { Discretization, getSamplerDefinition, ImageNoise, samplerNoise, samplerSigmas } from '../samplers/index.js';
import { cfgDenoiser } from './cfg.js';
import { allFinite, GenerationCancelledError, InvalidRequestError, NonFiniteOutputError } from './errors.js';
import { generateFlux } from './flux/generate-flux.js';
import { encodeBaseImage, img2imgSigmas } from './img2img.js';
import { NoisePrefetcher } from './noise-prefetch.js';
import { formatParameters } from './parameters.js';
import { encodePng, PARAMETERS_KEYWORD, vaePixelsToRgb } from './png.js';
import type { GenerateOptions, GeneratedImage } from './generation-output.js';
import { hiresPass, planHires } from './hires-fix.js';
import { ProgressReporter } from './preview.js';
import { scheduledConditioning, scheduleSteps } from './prompt-schedule.js';

/** The job's settings (the API's contract, defaults allowed) and where the model and base image are. */
export type GenerationRequest = z.input<typeof GenerationSettings> & {
  /** The model's own folder, in Optimum's ONNX layout. */
  modelDir: string;
  /** The catalog entry: its family must match the folder, its name goes into the PNG. */
  model: ModelRef;
  /** img2img: the image to start from, in any format sharp reads. */
  baseImage?: Uint8Array;
  /** The file of each LoRA in `loras`, by name (absolute paths), with its content hash when known. */
  loraFiles?: readonly { name: string; file: string; sha256?: string }[];
};

export type { GenerateOptions, GeneratedImage } from './generation-output.js';

const LATENT_CHANNELS = 4;
const VAE_SCALE = 8;

export async function generate(request: GenerationRequest, { onProgress, signal }: GenerateOptions = {}): Promise<GeneratedImage[]> {
  const { settings, modelRef } = validate(request);
  if (FAMILY_ARCHITECTURE[modelRef.family] === 'flux') {
    return generateFlux({ settings, modelRef, modelDir: request.modelDir, baseImage: request.baseImage }, { onProgress, signal });
  }
  if (settings.guidance !== undefined) {
    throw new InvalidRequestError(`guidance: ${modelRef.family} models take no distilled guidance (it is FLUX.1 [dev]'s setting); use cfgScale`);
  }
  throwIfCancelled(signal, 0, settings.steps);

  // 1. The model with the request's LoRAs merged in: both are cached, so a warm function loads neither again.
  const lease = await loraCache.acquire(request.modelDir, loraChoices(settings, request.loraFiles));
  try {
    return await generateWith(lease.model, lease.loras, request, settings, modelRef, { onProgress, signal });
  } finally {
    lease.release();
  }
}

async function generateWith(
  model: LoadedModel,
  loras: readonly AppliedLora[],
  request: GenerationRequest,
  settings: GenerationSettings,
  modelRef: ModelRef,
  { onProgress, signal }: GenerateOptions,
): Promise<GeneratedImage[]> {
  const { width, height, batchSize, steps } = settings;
  const latentDims = [batchSize, LATENT_CHANNELS, height / VAE_SCALE, width / VAE_SCALE] as const;
  const latentSize = LATENT_CHANNELS * latentDims[2] * latentDims[3];
  const seeds = Array.from({ length: batchSize }, (_, i) => settings.seed + i);
  const subseeds = seeds.map((_, i) => settings.subseed + i);
  checkArchitecture(model, modelRef);
  const discretization = Discretization.fromConfig(model.scheduler);

  // 2. Text conditioning for the prompt's AND parts and the negative prompt, at each model call
  // (prompt editing and alternation switch it), encoded the first time a call needs it.
  const conditioningAt = scheduledConditioning(model, { ...settings, steps: scheduleSteps(settings.sampler, steps) });
  await conditioningAt(0);

  // 3. The noise levels to visit; img2img runs only the tail its strength leaves.
  const sampler = getSamplerDefinition(settings.sampler);
  const fullSchedule = samplerSigmas(settings.sampler, settings.schedule, discretization, steps, model.architecture);
  const sigmas = request.baseImage ? img2imgSigmas(fullSchedule, settings.denoiseStrength) : fullSchedule;
  // The hires fix's second pass, when asked for; progress counts the steps of both passes.
  const hires = settings.hires && !request.baseImage ? planHires({ ...settings, hires: settings.hires }, discretization) : undefined;
  const firstPassSteps = sigmas.length - 1;
  const totalSteps = firstPassSteps + (hires ? hires.sigmas.length - 1 : 0);

  // 4. Initial latents: each image's seeded noise at the first sigma, around the base image for img2img.
  const imageNoise = new ImageNoise({
    source: settings.rngSource,
    seeds,
    shape: [LATENT_CHANNELS, latentDims[2], latentDims[3]],
    subseeds,
    subseedStrength: settings.subseedStrength,
    etaNoiseSeedDelta: settings.etaNoiseSeedDelta,
  });
  const noise = imageNoise.first();
  const start = request.baseImage ? await encodeBaseImage(model, request.baseImage, width, height) : undefined;
  const latents = noise.map((n, i) => (start ? start[i % latentSize] : 0) + n * sigmas[0]);
  throwIfCancelled(signal, 0, totalSteps);

  // 5. Denoise with classifier-free guidance. The sampler's noise: the generators' next draws, or
  // a Brownian tree per seed for the SDE samplers, both prepared while the UNet runs, when the JS
  // thread also draws the last step's preview; progress leaves the loop without waiting.
  const stepNoise = sampler.noise === 'sequential' ? new NoisePrefetcher(() => imageNoise.next()) : undefined;
  const noiseSource = samplerNoise(sampler.noise, imageNoise, sigmas, stepNoise?.source);
  const progressOptions = {
    onProgress,
    totalSteps,
    previewEvery: settings.previewEvery,
    architecture: model.architecture,
    latentWidth: latentDims[3],
    latentHeight: latentDims[2],
  };
  let progress = new ProgressReporter(progressOptions);
  let outputDims: readonly [number, number, number, number] = latentDims;
  try {
    const whileModelRuns = () => {
      stepNoise?.prefetch();
      noiseSource.prefetch?.();
      progress.drawPendingPreview();
    };
    const denoise = cfgDenoiser({ model, discretization, conditioningAt, cfgScale: settings.cfgScale, latentDims, whileModelRuns });
    let final = await sampler.sample(denoise, latents, {
      sigmas,
      noise: noiseSource,
      onStep: (i, _x, denoised) => {
        progress.report(i + 1, denoised);
        throwIfCancelled(signal, i + 1, totalSteps);
      },
    });

    // 6. Hires fix: upscale and refine at the larger size (its own stage, hires-fix.ts).
    if (hires) {
      await progress.finish();
      progress = new ProgressReporter({ ...progressOptions, latentWidth: hires.latentWidth, latentHeight: hires.latentHeight });
      const reporter = progress;
      final = await hiresPass({
        model,
        discretization,
        settings: { ...settings, hires: hires.hires },
        plan: hires,
        seeds,
        firstPass: final,
        whileModelRuns: () => reporter.drawPendingPreview(),
        onStep: (i, denoised) => {
          reporter.report(firstPassSteps + i + 1, denoised);
          throwIfCancelled(signal, firstPassSteps + i + 1, totalSteps);
        },
      });
      outputDims = [batchSize, LATENT_CHANNELS, hires.latentHeight, hires.latentWidth];
    }

    // 7. Decode each image and write it as a PNG that carries its settings.
    const infotext = (seed: number, subseed: number) =>
      formatParameters({
        ...settings,
        hires: hires?.hires,
        seed,
        subseed,
        model: modelRef.name,
        loraHashes: loras.map(({ name, hash }) => ({ name, hash })),
        denoiseStrength: request.baseImage || hires ? settings.denoiseStrength : undefined,
      });
    const [, , outHeight, outWidth] = outputDims;
    const outSize = LATENT_CHANNELS * outHeight * outWidth;
    const images: Promise<GeneratedImage>[] = [];
    for (let i = 0; i < batchSize; i++) {
      const rgb = await decodeImage(model, final.subarray(i * outSize, (i + 1) * outSize), outputDims, seeds[i]);
      const size = { width: outWidth * VAE_SCALE, height: outHeight * VAE_SCALE };
      // PNG compression overlaps the next image's decode.
      images.push(encodePng(rgb, size.width, size.height, { [PARAMETERS_KEYWORD]: infotext(seeds[i], subseeds[i]) }).then((png) => ({ png, seed: seeds[i], ...size })));
    }
    const result = await Promise.all(images);
    await progress.finish();
    return result;
  } catch (error) {
    await progress.settle();
    throw error;
  }
}

/** Loads (or finds cached) the model a job needs, with the loader of its family's architecture. */
export async function preloadModel(modelDir: string, family: ModelFamily, options: { logger?: Logger } = {}): Promise<void> {
  if (FAMILY_ARCHITECTURE[family] === 'flux') await loadFluxModel(modelDir, options);
  else await loadModel(modelDir, options);
}

/** Each requested LoRA with its file; a LoRA the job gives no file for cannot be applied. */
export function loraChoices(settings: GenerationSettings, files: GenerationRequest['loraFiles'] = []): LoraChoice[] {
  return settings.loras.map(({ name, weight, unetWeight }) => {
    const found = files.find((entry) => entry.name === name);
    if (!found) throw new InvalidRequestError(`invalid generation request: the LoRA "${name}" has no file in the job`);
    return { name, file: found.file, sha256: found.sha256, weight, unetWeight };
  });
}

function validate(request: GenerationRequest): { settings: GenerationSettings; modelRef: ModelRef } {
  const settings = GenerationSettings.safeParse(request);
  const modelRef = ModelRef.safeParse(request.model);
  const issues = [...(settings.error?.issues ?? []), ...(modelRef.error?.issues.map((issue) => ({ ...issue, path: ['model', ...issue.path] })) ?? [])];
  if (!settings.success || !modelRef.success) {
    const problems = issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`);
    throw new InvalidRequestError(`invalid generation request: ${problems.join('; ')}`);
  }
  if (typeof request.modelDir !== 'string' || request.modelDir === '') {
    throw new InvalidRequestError('invalid generation request: modelDir: the model folder is required');
  }
  return { settings: settings.data, modelRef: modelRef.data };
}

/** A catalog entry that names the wrong folder would otherwise fail deep inside the UNet. */
function checkArchitecture(model: LoadedModel, modelRef: ModelRef): void {
  const expected = FAMILY_ARCHITECTURE[modelRef.family];
  if (model.architecture !== expected) {
    throw new InvalidRequestError(
      `model "${modelRef.name}" is listed as ${modelRef.family} (${expected}), but ${model.dir} holds an ${model.architecture} pipeline (${model.pipelineClass})`,
    );
  }
}

function throwIfCancelled(signal: AbortSignal | undefined, step: number, totalSteps: number): void {
  if (signal?.aborted) throw new GenerationCancelledError(step, totalSteps);
}

/** One image at a time: a batch of full-size VAE decodes is what runs a GPU out of memory. */
async function decodeImage(model: LoadedModel, latents: Float32Array, latentDims: readonly number[], seed: number): Promise<Uint8ClampedArray> {
  const [, channels, latentHeight, latentWidth] = latentDims;
  const scaled = latents.map((v) => v / model.vaeScalingFactor);
  const { data, dims } = await model.vaeDecoder.decode({ data: scaled, dims: [1, channels, latentHeight, latentWidth] });
  const [, , height, width] = dims;
  if (height !== latentHeight * VAE_SCALE || width !== latentWidth * VAE_SCALE) {
    throw new Error(`${model.vaeDecoder.file} decoded ${latentWidth}x${latentHeight} latents to ${width}x${height}; expected ${VAE_SCALE}x the size`);
  }
  // NaN pixels would quietly become black ones.
  if (!allFinite(data)) throw new NonFiniteOutputError('vae_decoder', `for the image of seed ${seed}`);
  return vaePixelsToRgb(data, 0, width, height);
}
