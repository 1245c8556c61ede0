import type { FluxVaeFactors } from '../../models/flux/index.js';

/**
 * Flux's VAE latents are centred and scaled before the transformer sees them (diffusers'
 * `(latents - shift_factor) * scaling_factor`), and the other way round before decoding.
 */
export const toModelLatents = (vaeLatents: Float32Array, { scalingFactor, shiftFactor }: FluxVaeFactors) =>
  vaeLatents.map((v) => (v - shiftFactor) * scalingFactor);

export const toVaeLatents = (modelLatents: Float32Array, { scalingFactor, shiftFactor }: FluxVaeFactors) =>
  modelLatents.map((v) => v / scalingFactor + shiftFactor);
