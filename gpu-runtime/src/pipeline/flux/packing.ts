/**
 * Flux's transformer sees the 16-channel latent image as a sequence of tokens: each 2×2 patch of
 * the [16, h, w] latent becomes one token of 64 features, ordered channel first, then row and
 * column within the patch (feature = c·4 + dy·2 + dx), tokens in row-major patch order. This is
 * diffusers' _pack_latents / _unpack_latents. The transformer also takes each token's position:
 * img_ids rows (0, patch row, patch column) and txt_ids rows (0, 0, 0).
 */

export const FLUX_LATENT_CHANNELS = 16;
export const PATCH = 2;
export const TOKEN_FEATURES = FLUX_LATENT_CHANNELS * PATCH * PATCH;

export interface LatentShape {
  batch: number;
  /** Latent rows and columns (pixels / 8), both even. */
  height: number;
  width: number;
}

export const imageTokenCount = ({ height, width }: Pick<LatentShape, 'height' | 'width'>) => (height / PATCH) * (width / PATCH);

/** [B, 16, h, w] → [B, (h/2)·(w/2), 64] into `out`. */
export function packLatents(latents: Float32Array, shape: LatentShape, out = new Float32Array(latents.length)): Float32Array {
  const { batch, height, width } = shape;
  const plane = height * width;
  const rows = height / PATCH;
  const cols = width / PATCH;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const image = b * FLUX_LATENT_CHANNELS * plane;
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const corner = 2 * r * width + 2 * q;
        for (let c = 0; c < FLUX_LATENT_CHANNELS; c++) {
          const at = image + c * plane + corner;
          out[o++] = latents[at];
          out[o++] = latents[at + 1];
          out[o++] = latents[at + width];
          out[o++] = latents[at + width + 1];
        }
      }
    }
  }
  return out;
}

/** The inverse of packLatents: [B, tokens, 64] → [B, 16, h, w] into `out`. */
export function unpackLatents(tokens: Float32Array, shape: LatentShape, out = new Float32Array(tokens.length)): Float32Array {
  const { batch, height, width } = shape;
  const plane = height * width;
  const rows = height / PATCH;
  const cols = width / PATCH;
  let t = 0;
  for (let b = 0; b < batch; b++) {
    const image = b * FLUX_LATENT_CHANNELS * plane;
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const corner = 2 * r * width + 2 * q;
        for (let c = 0; c < FLUX_LATENT_CHANNELS; c++) {
          const at = image + c * plane + corner;
          out[at] = tokens[t++];
          out[at + 1] = tokens[t++];
          out[at + width] = tokens[t++];
          out[at + width + 1] = tokens[t++];
        }
      }
    }
  }
  return out;
}

/** [(h/2)·(w/2), 3]: (0, patch row, patch column) for each image token. */
export function imageIds(height: number, width: number): Float32Array {
  const rows = height / PATCH;
  const cols = width / PATCH;
  const ids = new Float32Array(rows * cols * 3);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const at = (r * cols + q) * 3;
      ids[at + 1] = r;
      ids[at + 2] = q;
    }
  }
  return ids;
}

/** [textTokens, 3] of zeros: Flux gives text no position in the rotary embedding. */
export const textIds = (textTokens: number) => new Float32Array(textTokens * 3);
