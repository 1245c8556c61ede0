import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { makeTinyModels } from '../../../scripts/make-tiny-models.js';
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
