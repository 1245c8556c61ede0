import type { HiresFix } from './job.js';

export interface HiresSize {
  /** The upscaled image before cropping (A1111's hr_upscale_to_x / _y). */
  upscaleWidth: number;
  upscaleHeight: number;
  /** The final image: the upscaled one, centre-cropped to the resize's aspect when both sides were given. */
  width: number;
  height: number;
}

/**
 * The hires pass's size, as A1111's calculate_target_resolution computes it: `scale` times the
 * first pass when no resize is given; a resize with one side 0 keeps the aspect; with both sides,
 * the image is upscaled to cover the target and centre-cropped to it.
 */
export function hiresSize(width: number, height: number, hires: Pick<HiresFix, 'scale' | 'resizeWidth' | 'resizeHeight'>): HiresSize {
  const { scale, resizeWidth: rx, resizeHeight: ry } = hires;
  if (rx === 0 && ry === 0) {
    const w = Math.trunc(width * scale);
    const h = Math.trunc(height * scale);
    return { upscaleWidth: w, upscaleHeight: h, width: w, height: h };
  }
  if (ry === 0) return same(rx, Math.floor((rx * height) / width));
  if (rx === 0) return same(Math.floor((ry * width) / height), ry);
  const cover = width / height < rx / ry ? { w: rx, h: Math.floor((rx * height) / width) } : { w: Math.floor((ry * width) / height), h: ry };
  return { upscaleWidth: cover.w, upscaleHeight: cover.h, width: rx, height: ry };
}

function same(width: number, height: number): HiresSize {
  return { upscaleWidth: width, upscaleHeight: height, width, height };
}
