/**
 * img2img's extra stages: the base image read, fitted to the target size and encoded to latents,
 * and the part of the sigma schedule that `denoiseStrength` leaves to run.
 */
import { MAX_BASE_IMAGE_PIXELS } from '@easel/schema';
import sharp from 'sharp';
import type { LoadedModel } from '../models/index.js';
import { InvalidRequestError } from './errors.js';

/**
 * Decodes any image sharp reads, turns it upright (EXIF), fills transparency with white, and
 * resizes it to cover width × height, cropping the overflow evenly on both sides. Returns
 * NCHW floats in [-1, 1], batch 1.
 */
export async function loadBaseImage(image: Uint8Array, width: number, height: number): Promise<Float32Array> {
  let pixels: Buffer;
  try {
    pixels = await sharp(image, { limitInputPixels: MAX_BASE_IMAGE_PIXELS })
      .rotate()
      .resize(width, height, { fit: 'cover', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidRequestError(`the base image could not be read as an image (${reason})`, { cause: error });
  }
  const plane = width * height;
  const chw = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) chw[c * plane + i] = pixels[i * 3 + c] / 127.5 - 1;
  }
  return chw;
}

/**
 * The tail of a `steps`-long schedule (steps + 1 sigmas ending in 0) that img2img runs, the way
 * A1111 does: t_enc = ⌊min(strength, 0.999) · steps⌋ and the last t_enc + 1 steps. The first
 * sigma of the tail is the noise level the encoded image starts from. Strength 1 runs the whole
 * schedule from pure noise level; strength 0 still runs the last, smallest step.
 */
export function img2imgSigmas(sigmas: ArrayLike<number>, strength: number): Float64Array {
  const steps = sigmas.length - 1;
  const encodeSteps = Math.floor(Math.min(strength, 0.999) * steps);
  return Float64Array.from(Array.prototype.slice.call(sigmas, steps - encodeSteps - 1) as number[]);
}

/**
 * The base image as the UNet sees latents: the VAE encoder's mean, times the VAE's scaling
 * factor. [1, 4, height / 8, width / 8].
 */
export async function encodeBaseImage(model: LoadedModel, image: Uint8Array, width: number, height: number): Promise<Float32Array> {
  const encoder = model.requireVaeEncoder();
  const pixels = await loadBaseImage(image, width, height);
  const { data } = await encoder.encode({ data: pixels, dims: [1, 3, height, width] });
  return data.map((v) => v * model.vaeScalingFactor);
}
