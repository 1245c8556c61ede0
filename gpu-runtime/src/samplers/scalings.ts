import type { PredictionType } from './scheduler-config.js';

/**
 * How to turn a UNet call into the denoised estimate D(x, σ) the samplers want:
 *
 *   D(x, σ) = c_skip·x + c_out·F(c_in·x, t(σ))
 *
 * where F is the UNet and t(σ) its timestep (Discretization.sigmaToTimestep). c_in rescales x
 * (variance 1 + σ² for unit-variance data) back to the unit variance the UNet was trained on.
 * With σ_data = 1, as Stable Diffusion's latents are scaled to:
 *
 *   epsilon:       F predicts ε,                       c_skip = 1,         c_out = −σ
 *   v_prediction:  F predicts v = √ᾱ·ε − √(1−ᾱ)·x0,    c_skip = 1/(σ²+1),  c_out = −σ/√(σ²+1)
 *
 * (Karras et al. 2022, table 1; k-diffusion's DiscreteEpsDDPMDenoiser / DiscreteVDDPMDenoiser.)
 */
export interface DenoiserScalings {
  cSkip: number;
  cOut: number;
  cIn: number;
}

export function denoiserScalings(predictionType: PredictionType, sigma: number): DenoiserScalings {
  const cIn = 1 / Math.sqrt(sigma * sigma + 1);
  switch (predictionType) {
    case 'epsilon':
      return { cSkip: 1, cOut: -sigma, cIn };
    case 'v_prediction':
      return { cSkip: 1 / (sigma * sigma + 1), cOut: -sigma * cIn, cIn };
  }
}
