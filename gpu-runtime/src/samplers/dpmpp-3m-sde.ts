import { forEachStep, type Sampler } from './sampling.js';

/**
 * DPM++ 3M SDE (η = 1; k-diffusion's sample_dpmpp_3m_sde): DPM-Solver++ on the reverse SDE with
 * the denoised estimate extrapolated quadratically from this step's and the two previous ones
 * (third order from the third step on, second on the second, first on the first). With h_η = 2h:
 *
 *   x ← e^(−h_η)·x + (1 − e^(−h_η))·D + φ2·D1 − φ3·D2 + σ_next·√(1 − e^(−2h))·z
 *
 * where φ2 = (e^(−h_η) − 1)/h_η + 1, φ3 = φ2/h_η − ½, and D1, D2 the first and second divided
 * differences of the estimates, scaled to this step (r0 = h_1/h, r1 = h_2/h).
 */
export const dpmpp3mSde: Sampler = async (denoise, initial, ctx) => {
  const x = Float32Array.from(initial);
  const d1 = new Float32Array(x.length); // the previous estimate
  const d2 = new Float32Array(x.length); // the one before
  const h1h2: number[] = []; // the previous steps' h, latest first
  await forEachStep(ctx, x, denoise, async (_i, sigma, sigmaNext) => {
    const denoised = await denoise(x, sigma);
    const h = Math.log(sigma / sigmaNext);
    const hEta = 2 * h;
    const decay = Math.exp(-hEta);
    const phi2 = Math.expm1(-hEta) / hEta + 1;
    const phi3 = phi2 / hEta - 0.5;
    const noiseScale = sigmaNext * Math.sqrt(-Math.expm1(-2 * h));
    const noise = ctx.noise(sigma, sigmaNext);
    const [h1, h2] = h1h2;
    for (let j = 0; j < x.length; j++) {
      let value = decay * x[j] + (1 - decay) * denoised[j];
      if (h2 !== undefined) {
        const [r0, r1] = [h1 / h, h2 / h];
        const slope0 = (denoised[j] - d1[j]) / r0;
        const slope1 = (d1[j] - d2[j]) / r1;
        const first = slope0 + ((slope0 - slope1) * r0) / (r0 + r1);
        const second = (slope0 - slope1) / (r0 + r1);
        value += phi2 * first - phi3 * second;
      } else if (h1 !== undefined) {
        value += phi2 * ((denoised[j] - d1[j]) / (h1 / h));
      }
      x[j] = value + noiseScale * noise[j];
    }
    d2.set(d1);
    d1.set(denoised);
    h1h2.unshift(h);
    h1h2.length = Math.min(h1h2.length, 2);
    return denoised;
  });
  return x;
};
