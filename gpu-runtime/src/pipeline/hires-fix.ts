/**
 * A1111's hires fix, the second pass of a txt2img generation (StableDiffusionProcessingTxt2Img
 * .sample_hr), read top to bottom:
 *
 *   target size → upscale the first pass (latents by interpolation, or decoded pixels through
 *   sharp and encoded again) → centre-crop to a resize's aspect → img2img at the target size:
 *   the tail of the hires sampler's schedule that `denoiseStrength` leaves, with the hires prompt
 *   (prompt editing continues on from the first pass's steps)
 *
 * Latent upscalers interpolate as torch.nn.functional.interpolate does with `size` and
 * align_corners=False. The antialiased variants equal their plain ones when enlarging, which is
 * what a hires fix does (a resize smaller than the first pass is refused).
 */
import { hiresSize, type GenerationSettings, type HiresFix, type HiresUpscaler } from '@easel/schema';
import sharp from 'sharp';
import type { LoadedModel } from '../models/index.js';
import { getSamplerDefinition, getSigmas, ImageNoise, samplerNoise, type Discretization } from '../samplers/index.js';
import { cfgDenoiser } from './cfg.js';
import { InvalidRequestError } from './errors.js';
import { encodeBaseImage, img2imgSigmas } from './img2img.js';
import { encodePng, vaePixelsToRgb } from './png.js';
import { scheduledConditioning, scheduleSteps } from './prompt-schedule.js';

const LATENT_CHANNELS = 4;
const VAE_SCALE = 8;

export interface HiresPlan {
  hires: HiresFix;
  /** The latent size the first pass is upscaled to, before cropping. */
  upscaleLatentWidth: number;
  upscaleLatentHeight: number;
  /** The final latent size. */
  latentWidth: number;
  latentHeight: number;
  /** The sigmas the second pass visits. */
  sigmas: Float64Array;
}

/** The second pass's sizes and sigmas; throws InvalidRequestError for a size Easel cannot make. */
export function planHires(settings: GenerationSettings & { hires: HiresFix }, discretization: Discretization): HiresPlan {
  const { hires } = settings;
  const size = hiresSize(settings.width, settings.height, hires);
  const upscaleLatentWidth = Math.floor(size.upscaleWidth / VAE_SCALE);
  const upscaleLatentHeight = Math.floor(size.upscaleHeight / VAE_SCALE);
  // A1111's truncate_x / truncate_y: what a resize's crop takes off, in latent pixels.
  const latentWidth = upscaleLatentWidth - Math.floor((size.upscaleWidth - size.width) / VAE_SCALE);
  const latentHeight = upscaleLatentHeight - Math.floor((size.upscaleHeight - size.height) / VAE_SCALE);
  if (upscaleLatentWidth < settings.width / VAE_SCALE || upscaleLatentHeight < settings.height / VAE_SCALE) {
    throw new InvalidRequestError(`the hires fix enlarges: ${size.width}x${size.height} is smaller than the first pass's ${settings.width}x${settings.height}`);
  }
  if (latentWidth * VAE_SCALE > 2048 || latentHeight * VAE_SCALE > 2048) {
    throw new InvalidRequestError(`the hires fix would make ${latentWidth * VAE_SCALE}x${latentHeight * VAE_SCALE}; the largest image is 2048 on a side`);
  }
  const full = getSigmas(hires.schedule ?? settings.schedule, discretization, hires.steps || settings.steps);
  return { hires, upscaleLatentWidth, upscaleLatentHeight, latentWidth, latentHeight, sigmas: img2imgSigmas(full, settings.denoiseStrength) };
}

export interface HiresPassOptions {
  model: LoadedModel;
  discretization: Discretization;
  settings: GenerationSettings & { hires: HiresFix };
  plan: HiresPlan;
  seeds: readonly number[];
  /** The first pass's result: [batch, 4, height / 8, width / 8]. */
  firstPass: Float32Array;
  /** Called after each of the pass's steps, from 0, with its x0. */
  onStep: (step: number, denoised: Float32Array) => void;
  whileModelRuns?: () => void;
}

/** Runs the second pass; returns its latents, [batch, 4, plan.latentHeight, plan.latentWidth]. */
export async function hiresPass({ model, discretization, settings, plan, seeds, firstPass, onStep, whileModelRuns }: HiresPassOptions): Promise<Float32Array> {
  const { hires, sigmas, latentWidth, latentHeight } = plan;
  const batch = seeds.length;

  // 1. The first pass upscaled and cropped to the target.
  const start = await upscale(model, settings, plan, firstPass);

  // 2. Conditioning: the hires prompts, at the target size, scheduled on from the first pass.
  const sampler = hires.sampler ?? settings.sampler;
  const conditioningAt = scheduledConditioning(model, {
    ...settings,
    prompt: hires.prompt || settings.prompt,
    negativePrompt: hires.negativePrompt || settings.negativePrompt,
    width: latentWidth * VAE_SCALE,
    height: latentHeight * VAE_SCALE,
    steps: scheduleSteps(settings.sampler, settings.steps),
    hiresSteps: scheduleSteps(sampler, hires.steps || settings.steps),
  });

  // 3. img2img from the upscaled image, with noise of the image's seeds at the new size: as
  // A1111's sample_hr_pass, a new ImageRNG at that shape (variation seed and ENSD included), its first draw.
  const imageNoise = new ImageNoise({
    source: settings.rngSource,
    seeds,
    shape: [LATENT_CHANNELS, latentHeight, latentWidth],
    subseeds: seeds.map((_, i) => settings.subseed + i),
    subseedStrength: settings.subseedStrength,
    etaNoiseSeedDelta: settings.etaNoiseSeedDelta,
  });
  const noise = imageNoise.first();
  const latents = noise.map((n, i) => start[i] + n * sigmas[0]);
  const latentDims = [batch, LATENT_CHANNELS, latentHeight, latentWidth] as const;
  const definition = getSamplerDefinition(sampler);
  const denoise = cfgDenoiser({ model, discretization, conditioningAt, cfgScale: settings.cfgScale, latentDims, whileModelRuns });
  return definition.sample(denoise, latents, {
    sigmas,
    noise: samplerNoise(definition.noise, imageNoise, sigmas),
    onStep: (i, _x, denoised) => onStep(i, denoised),
  });
}

/** [batch, 4, h, w] latents at the plan's upscaled size, cropped to its final size. */
async function upscale(model: LoadedModel, settings: GenerationSettings & { hires: HiresFix }, plan: HiresPlan, latents: Float32Array): Promise<Float32Array> {
  const batch = latents.length / (LATENT_CHANNELS * (settings.width / VAE_SCALE) * (settings.height / VAE_SCALE));
  const from = { width: settings.width / VAE_SCALE, height: settings.height / VAE_SCALE };
  const to = { width: plan.upscaleLatentWidth, height: plan.upscaleLatentHeight };
  const mode = LATENT_MODES[plan.hires.upscaler];
  const upscaled = mode
    ? interpolate(latents, batch * LATENT_CHANNELS, from, to, mode)
    : await upscalePixels(model, latents, batch, from, to, plan.hires.upscaler === 'Lanczos' ? 'lanczos3' : 'nearest');
  return cropCentre(upscaled, batch * LATENT_CHANNELS, to, { width: plan.latentWidth, height: plan.latentHeight });
}

type LatentMode = 'bilinear' | 'bicubic' | 'nearest' | 'nearest-exact';

/** A1111's latent_upscale_modes. */
const LATENT_MODES: Partial<Record<HiresUpscaler, LatentMode>> = {
  Latent: 'bilinear',
  'Latent (antialiased)': 'bilinear',
  'Latent (bicubic)': 'bicubic',
  'Latent (bicubic antialiased)': 'bicubic',
  'Latent (nearest)': 'nearest',
  'Latent (nearest-exact)': 'nearest-exact',
};

interface Size {
  width: number;
  height: number;
}

/** torch.nn.functional.interpolate(x, size, mode, align_corners=False) over `planes` planes of `from`. */
export function interpolate(x: Float32Array, planes: number, from: Size, to: Size, mode: LatentMode): Float32Array {
  const out = new Float32Array(planes * to.width * to.height);
  const taps = (inSize: number, outSize: number) => Array.from({ length: outSize }, (_, o) => sourceTaps(o, inSize, outSize, mode));
  const xs = taps(from.width, to.width);
  const ys = taps(from.height, to.height);
  for (let p = 0; p < planes; p++) {
    const plane = x.subarray(p * from.width * from.height, (p + 1) * from.width * from.height);
    for (let oy = 0; oy < to.height; oy++) {
      for (let ox = 0; ox < to.width; ox++) {
        let value = 0;
        for (const [iy, wy] of ys[oy]) for (const [ix, wx] of xs[ox]) value += wy * wx * plane[iy * from.width + ix];
        out[(p * to.height + oy) * to.width + ox] = value;
      }
    }
  }
  return out;
}

/** The input indices and weights for output index `o` along one axis, torch's way. */
function sourceTaps(o: number, inSize: number, outSize: number, mode: LatentMode): [number, number][] {
  const scale = inSize / outSize;
  const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
  if (mode === 'nearest') return [[Math.min(Math.floor(o * scale), inSize - 1), 1]];
  if (mode === 'nearest-exact') return [[Math.min(Math.floor((o + 0.5) * scale), inSize - 1), 1]];
  if (mode === 'bilinear') {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.floor(src);
    const t = src - i0;
    return [
      [clamp(i0), 1 - t],
      [clamp(i0 + 1), t],
    ];
  }
  // Bicubic, Keys' kernel with A = −0.75, as torch has it.
  const src = (o + 0.5) * scale - 0.5;
  const i = Math.floor(src);
  const t = src - i;
  const A = -0.75;
  const near = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1;
  const far = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
  return [
    [clamp(i - 1), far(t + 1)],
    [clamp(i), near(t)],
    [clamp(i + 1), near(1 - t)],
    [clamp(i + 2), far(2 - t)],
  ];
}

/** Decodes each image, resizes its pixels with sharp, and encodes it again. */
async function upscalePixels(model: LoadedModel, latents: Float32Array, batch: number, from: Size, to: Size, kernel: 'lanczos3' | 'nearest'): Promise<Float32Array> {
  const perImage = LATENT_CHANNELS * from.width * from.height;
  const out = new Float32Array(batch * LATENT_CHANNELS * to.width * to.height);
  const width = to.width * VAE_SCALE;
  const height = to.height * VAE_SCALE;
  for (let b = 0; b < batch; b++) {
    const scaled = latents.subarray(b * perImage, (b + 1) * perImage).map((v) => v / model.vaeScalingFactor);
    const { data } = await model.vaeDecoder.decode({ data: scaled, dims: [1, LATENT_CHANNELS, from.height, from.width] });
    const rgb = vaePixelsToRgb(data, 0, from.width * VAE_SCALE, from.height * VAE_SCALE);
    const resized = await sharp(await encodePng(rgb, from.width * VAE_SCALE, from.height * VAE_SCALE, {}))
      .resize(width, height, { kernel, fit: 'fill' })
      .png()
      .toBuffer();
    out.set(await encodeBaseImage(model, resized, width, height), b * LATENT_CHANNELS * to.width * to.height);
  }
  return out;
}

/** A1111's truncation: the centre `to` of each `from` plane (the odd pixel off the end). */
function cropCentre(x: Float32Array, planes: number, from: Size, to: Size): Float32Array {
  if (from.width === to.width && from.height === to.height) return x;
  const left = Math.floor((from.width - to.width) / 2);
  const top = Math.floor((from.height - to.height) / 2);
  const out = new Float32Array(planes * to.width * to.height);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < to.height; y++) {
      const row = (p * from.height + top + y) * from.width + left;
      out.set(x.subarray(row, row + to.width), (p * to.height + y) * to.width);
    }
  }
  return out;
}
