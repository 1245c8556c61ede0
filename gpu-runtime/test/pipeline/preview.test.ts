import sharp from 'sharp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packLatents } from '../../src/pipeline/flux/packing.js';
import { latentToRgb, ProgressReporter, type Progress } from '../../src/pipeline/preview.js';

const W = 8, H = 4, PLANE = W * H;

/** A latent whose every pixel holds the same 4 channel values. */
function flatLatent(values: [number, number, number, number]): Float32Array {
  const latent = new Float32Array(4 * PLANE);
  values.forEach((v, c) => latent.fill(v, c * PLANE, (c + 1) * PLANE));
  return latent;
}

describe('latent previews', () => {
  it('applies the SD 1.5 factors: channel 0 alone gives its published RGB row', () => {
    const rgb = latentToRgb(flatLatent([1, 0, 0, 0]), W, H, 'sd1');
    // (0.3512, 0.2297, 0.3227) mapped from [-1, 1] to bytes
    expect([...rgb.subarray(0, 3)]).toEqual([172, 157, 169]);
    expect(rgb.length).toBe(PLANE * 3);
  });

  it('applies the SDXL factors with their bias, and clamps', () => {
    expect([...latentToRgb(flatLatent([0, 0, 0, 0]), W, H, 'sdxl').subarray(0, 3)]).toEqual([141, 125, 127]);
    expect([...latentToRgb(flatLatent([10, 0, 0, -10]), W, H, 'sdxl').subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it("maps Flux's packed tokens as it maps the same latents unpacked, and a 16-channel latent by ComfyUI's Flux factors", () => {
    const random = fc.sample(fc.float({ min: -3, max: 3, noNaN: true }), 16 * PLANE);
    const planar = Float32Array.from(random);
    const packed = packLatents(planar, { batch: 1, height: H, width: W });
    expect(Array.from(latentToRgb(packed, W, H, 'flux', 'packed'))).toEqual(Array.from(latentToRgb(planar, W, H, 'flux')));
    // Channel 0 alone at 1: (its factors (-0.0346, 0.0244, 0.0681) + the bias (-0.0329, -0.0718, -0.0851) + 1)·127.5, rounded.
    const channel0 = new Float32Array(16 * PLANE).fill(1, 0, PLANE);
    expect([...latentToRgb(channel0, W, H, 'flux').subarray(0, 3)]).toEqual([119, 121, 125]);
  });

  it('reports every step in order, previews every N steps as WebP, and waits for nothing in report()', async () => {
    const seen: Progress[] = [];
    const reporter = new ProgressReporter({
      onProgress: async (progress) => {
        await new Promise((resolve) => setTimeout(resolve, progress.step === 1 ? 20 : 0)); // a slow first callback must not reorder
        seen.push(progress);
      },
      totalSteps: 5, previewEvery: 2, architecture: 'sd1', latentWidth: W, latentHeight: H,
    });
    for (let step = 1; step <= 5; step++) reporter.report(step, flatLatent([step / 5, 0, 0, 0]));
    expect(seen).toHaveLength(0);
    await reporter.finish();

    expect(seen.map((p) => [p.step, p.totalSteps, p.previewWebp !== undefined])).toEqual([
      [1, 5, false], [2, 5, true], [3, 5, false], [4, 5, true], [5, 5, false],
    ]);
    const meta = await sharp(seen[1].previewWebp!).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: W, height: H });
    // each preview shows its own step's x0 (step 4's channel 0 is larger: redder), though drawn later
    const red = async (webp: Buffer) => (await sharp(webp).raw().toBuffer())[0];
    const expectedRed = (step: number) => latentToRgb(flatLatent([step / 5, 0, 0, 0]), W, H, 'sd1')[0];
    expect(Math.abs((await red(seen[1].previewWebp!)) - expectedRed(2))).toBeLessThanOrEqual(3);
    expect(Math.abs((await red(seen[3].previewWebp!)) - expectedRed(4))).toBeLessThanOrEqual(3);
    expect(expectedRed(4) - expectedRed(2)).toBeGreaterThan(10);
  });

  it('fails at the next report once a callback has thrown, and stops calling it', async () => {
    const steps: number[] = [];
    const reporter = new ProgressReporter({
      onProgress: (progress) => {
        steps.push(progress.step);
        if (progress.step === 2) throw new Error('callback is down');
      },
      totalSteps: 4, previewEvery: 0, architecture: 'sdxl', latentWidth: W, latentHeight: H,
    });
    reporter.report(1, flatLatent([0, 0, 0, 0]));
    reporter.report(2, flatLatent([0, 0, 0, 0]));
    reporter.report(3, flatLatent([0, 0, 0, 0]));
    await expect(reporter.finish()).rejects.toThrow('callback is down');
    expect(steps).toEqual([1, 2]);
    expect(() => reporter.report(4, flatLatent([0, 0, 0, 0]))).toThrow('callback is down');
  });
});
