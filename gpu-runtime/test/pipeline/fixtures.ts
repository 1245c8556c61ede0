import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { makeTinyModels } from '../../src/tiny-models/index.js';
import { GraphBuilder } from '../../src/tiny-models/graph-builder.js';
import { WeightRandom } from '../../src/tiny-models/random.js';
import type { GenerationRequest } from '../../src/pipeline/generate.js';

export type TinyKind = 'sd15' | 'sdxl';

export interface TinyModels {
  root: string;
  dirs: Record<TinyKind, string>;
  cleanup(): Promise<void>;
}

/** Writes both tiny models into a fresh temp folder. */
export async function tinyModels(): Promise<TinyModels> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'easel-pipeline-'));
  const dirs = await makeTinyModels(root);
  return {
    root,
    dirs: { sd15: dirs['tiny-sd15'], sdxl: dirs['tiny-sdxl'] },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A small, fast request on a tiny model; override anything. */
export function tinyRequest(models: TinyModels, kind: TinyKind, overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    modelDir: models.dirs[kind],
    model: { id: `tiny-${kind}`, name: `Tiny ${kind.toUpperCase()}`, family: kind === 'sd15' ? 'SD15' : 'SDXL', path: `tiny-${kind}` },
    prompt: 'a (cat:1.2) on a sofa',
    negativePrompt: 'blurry',
    width: 64,
    height: 64,
    steps: 3,
    cfgScale: 7,
    sampler: 'euler',
    schedule: 'normal',
    seed: 1234,
    previewEvery: 0,
    ...overrides,
  };
}

/** A 96x64 colour gradient: wider than the 64x64 target, so cover-cropping has work to do. */
export function gradientImage(width = 96, height = 64): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgb.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg().toBuffer();
}

/** The pixels of a PNG, for comparing images regardless of their metadata. */
export async function pixelsOf(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * How a picture's bytes are spread: a flat image (all black, as NaN latents give) has no spread,
 * and one decoded from runaway latents is clipped to 0 and 255 almost everywhere.
 */
export function pixelStats(data: Uint8Array): { std: number; clipped: number; levels: number } {
  const mean = data.reduce((sum, v) => sum + v, 0) / data.length;
  const variance = data.reduce((sum, v) => sum + (v - mean) ** 2, 0) / data.length;
  const clipped = data.reduce((count, v) => count + (v === 0 || v === 255 ? 1 : 0), 0);
  return { std: Math.sqrt(variance), clipped: clipped / data.length, levels: new Set(data).size };
}

/** Stored in float16 like the other weights; the product leaves float16's range (±65 504) for inputs above about 1. */
const OVERFLOW_GAIN = Float32Array.of(60_000);

/**
 * A copy of the tiny SDXL model (fp16 throughout) whose UNet or VAE decoder overflows half
 * precision, as a real fp16 export can: the part's output is its input times 60 000, which is
 * ±∞ once cast to float16. Returns the copy's folder.
 */
export async function overflowingSdxl(sdxlDir: string, targetDir: string, part: 'unet' | 'vae_decoder'): Promise<string> {
  await cp(sdxlDir, targetDir, { recursive: true });
  const g = new GraphBuilder(new WeightRandom(1), 'float16');
  if (part === 'unet') {
    const dims = ['batch_size', 4, 'height', 'width'];
    const sample = g.input('sample', 'float16', dims);
    g.input('timestep', 'float16', []);
    g.input('encoder_hidden_states', 'float16', ['batch_size', 'sequence_length', 72]);
    g.input('text_embeds', 'float16', ['batch_size', 40]);
    g.input('time_ids', 'float16', ['batch_size', 6]);
    g.output(g.op('Mul', [sample, g.floats([1], OVERFLOW_GAIN)]), 'out_sample', 'float16', dims);
  } else {
    const latents = g.input('latent_sample', 'float16', ['batch_size', 4, 'latent_height', 'latent_width']);
    const upsample = g.floats([4, 3, 8, 8], new Float32Array(4 * 3 * 8 * 8).fill(1));
    const pixels = g.op('ConvTranspose', [g.op('Mul', [latents, g.floats([1], OVERFLOW_GAIN)]), upsample], { strides: [8, 8] });
    g.output(pixels, 'sample', 'float16', ['batch_size', 3, 'latent_height * 8', 'latent_width * 8']);
  }
  await writeFile(path.join(targetDir, part, 'model.onnx'), g.toBytes(part));
  return targetDir;
}
