/**
 * `npm run bench:samplers`: what the samplers cost per step outside the model, and what seeded
 * noise costs, at SD 1.5's 64×64 latent and SDXL's 128×128 (batch 1, 4 channels).
 *
 * The denoiser here returns a ready buffer at once, so the figures are the samplers' own work:
 * their update loops and, for the stochastic ones, drawing the step's noise (the NV generator's
 * next draw, or the Brownian tree's increment for the SDE samplers).
 */
import { RNG_SOURCES, SAMPLER_NOISE, SAMPLERS } from '@easel/schema';
import { getSampler, ImageNoise, karrasSigmas, randn, samplerNoise, type Denoiser } from '@easel/gpu-runtime/samplers';

const STEPS = 30;
const REPEATS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function msPerStep(sampler: (typeof SAMPLERS)[number], side: number): Promise<number> {
  const sigmas = karrasSigmas(0.0292, 14.6146, STEPS);
  const x = randn({ seed: 1, shape: [4, side, side], source: 'NV' });
  const estimate = x.map((v) => v * 0.1);
  const denoise: Denoiser = async () => estimate;
  const run = getSampler(sampler);
  const times: number[] = [];
  for (let repeat = 0; repeat < REPEATS + 2; repeat++) {
    const imageNoise = new ImageNoise({ source: 'NV', seeds: [repeat], shape: [4, side, side] });
    imageNoise.first();
    const start = performance.now();
    await run(denoise, x, { sigmas, noise: samplerNoise(SAMPLER_NOISE[sampler], imageNoise, sigmas) });
    if (repeat >= 2) times.push((performance.now() - start) / STEPS); // the first runs warm up the JIT
  }
  return median(times);
}

function msPerRandn(source: (typeof RNG_SOURCES)[number], length: number): number {
  const times: number[] = [];
  for (let repeat = 0; repeat < 40; repeat++) {
    const start = performance.now();
    randn({ seed: repeat, shape: [length], source });
    if (repeat >= 5) times.push(performance.now() - start);
  }
  return median(times);
}

for (const [label, side] of [
  ['64x64 (SD 1.5 at 512²)', 64],
  ['128x128 (SDXL at 1024²)', 128],
] as const) {
  const length = 4 * side * side;
  console.log(`\n${label}: ${length} latent floats, batch 1`);
  for (const source of RNG_SOURCES) console.log(`  randn, ${source}: ${msPerRandn(source, length).toFixed(3)} ms`);
  for (const sampler of SAMPLERS) {
    console.log(`  ${sampler.padEnd(18)} ${(await msPerStep(sampler, side)).toFixed(3)} ms per step (${SAMPLER_NOISE[sampler]} noise)`);
  }
}
