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
  forEachPatchValue(shape, (latent, token) => (out[token] = latents[latent]));
  return out;
}

/** The inverse of packLatents: [B, tokens, 64] → [B, 16, h, w] into `out`. */
export function unpackLatents(tokens: Float32Array, shape: LatentShape, out = new Float32Array(tokens.length)): Float32Array {
  forEachPatchValue(shape, (latent, token) => (out[latent] = tokens[token]));
  return out;
}

/** Visits every value once, with its index in the NCHW latents and in the packed tokens. */
function forEachPatchValue({ batch, height, width }: LatentShape, visit: (latent: number, token: number) => void): void {
  const plane = height * width;
  const rows = height / PATCH;
  const cols = width / PATCH;
  let token = 0;
  for (let b = 0; b < batch; b++) {
    const image = b * FLUX_LATENT_CHANNELS * plane;
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const corner = image + 2 * r * width + 2 * q;
        for (let c = 0; c < FLUX_LATENT_CHANNELS; c++) {
          const at = corner + c * plane;
          visit(at, token++);
          visit(at + 1, token++);
          visit(at + width, token++);
          visit(at + width + 1, token++);
        }
      }
    }
  }
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
