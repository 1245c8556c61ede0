import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imageIds, packLatents, textIds, unpackLatents } from '../../../src/pipeline/flux/packing.js';
import { toModelLatents, toVaeLatents } from '../../../src/pipeline/flux/vae-scaling.js';

describe('Flux latent packing', () => {
  it('puts each 2×2 patch of 16 channels into one 64-feature token, channel first (diffusers _pack_latents)', () => {
    const [height, width] = [4, 6];
    const latents = new Float32Array(16 * height * width);
    for (let c = 0; c < 16; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) latents[(c * height + y) * width + x] = c * 1000 + y * 10 + x;
    const tokens = packLatents(latents, { batch: 1, height, width });
    // token (row r, column q) = r·3 + q; feature c·4 + dy·2 + dx
    for (const [r, q, c, dy, dx] of [[0, 0, 0, 0, 0], [1, 2, 5, 1, 0], [0, 1, 15, 1, 1], [1, 0, 7, 0, 1]]) {
      expect(tokens[(r * 3 + q) * 64 + c * 4 + dy * 2 + dx]).toBe(c * 1000 + (2 * r + dy) * 10 + 2 * q + dx);
    }
  });

  it('unpacks exactly what it packed, for any even size and batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (batch, halfH, halfW, seed) => {
        const shape = { batch, height: 2 * halfH, width: 2 * halfW };
        const latents = Float32Array.from({ length: batch * 16 * shape.height * shape.width }, (_, i) => Math.sin(seed + i));
        expect(unpackLatents(packLatents(latents, shape), shape)).toEqual(latents);
        expect(packLatents(unpackLatents(latents, shape), shape)).toEqual(latents);
      }),
    );
  });

  it('img_ids are (0, row, column) per token in row-major order; txt_ids are zeros', () => {
    expect([...imageIds(4, 6)]).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
    expect([...textIds(3)]).toEqual(new Array(9).fill(0));
  });
});

describe('Flux VAE scaling', () => {
  const factors = { scalingFactor: 0.3611, shiftFactor: 0.1159 }; // FLUX.1's vae/config.json
  it('centres then scales for the transformer, and inverts it for the decoder', () => {
    const model = toModelLatents(Float32Array.of(0.1159, 1.1159), factors);
    expect(model[0]).toBeCloseTo(0, 7);
    expect(model[1]).toBeCloseTo(0.3611, 6);
    const back = toVaeLatents(Float32Array.of(0, 1), factors);
    expect(back[0]).toBeCloseTo(0.1159, 7);
    expect(back[1]).toBeCloseTo(1 / 0.3611 + 0.1159, 5);
  });
});
