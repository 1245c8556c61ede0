/**
 * `npm run bench:samplers`: what the samplers cost per step outside the model, and what seeded
 * noise costs, at SD 1.5's 64×64 latent and SDXL's 128×128 (batch 1, 4 channels).
 *
 * The denoiser here returns a ready buffer at once, so the figures are the samplers' own work:
 * their update loops and, for the stochastic ones, drawing the step's noise.
 */
import { SAMPLERS } from '@easel/schema';
import { fillNormal, getSampler, karrasSigmas, samplerNoise, type Denoiser } from '@easel/gpu-runtime/samplers';

const STEPS = 30;
const REPEATS = 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function msPerStep(sampler: (typeof SAMPLERS)[number], length: number): Promise<number> {
  const sigmas = karrasSigmas(0.0292, 14.6146, STEPS);
  const x = new Float32Array(length);
  fillNormal(x, 1, 0);
  const estimate = x.map((v) => v * 0.1);
  const denoise: Denoiser = async () => estimate;
  const run = getSampler(sampler);
  const times: number[] = [];
  for (let repeat = 0; repeat < REPEATS + 3; repeat++) {
    const start = performance.now();
    await run(denoise, x, { sigmas, noise: samplerNoise([1], length) });
    if (repeat >= 3) times.push((performance.now() - start) / STEPS); // the first runs warm up the JIT
  }
  return median(times);
}

function msPerNoiseFill(length: number): number {
  const out = new Float32Array(length);
  const times: number[] = [];
  for (let repeat = 0; repeat < 200; repeat++) {
    const start = performance.now();
    fillNormal(out, repeat, 1);
    if (repeat >= 20) times.push(performance.now() - start);
  }
  return median(times);
}

for (const [label, side] of [
  ['64x64 (SD 1.5 at 512²)', 64],
  ['128x128 (SDXL at 1024²)', 128],
] as const) {
  const length = 4 * side * side;
  console.log(`\n${label}: ${length} latent floats, batch 1`);
  console.log(`  normal noise, ${length} values: ${msPerNoiseFill(length).toFixed(3)} ms`);
  for (const sampler of SAMPLERS) {
    console.log(`  ${sampler.padEnd(13)} ${(await msPerStep(sampler, length)).toFixed(3)} ms per step`);
  }
}
