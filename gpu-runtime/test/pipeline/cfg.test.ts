import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel, type UNetConditioningInput } from '../../src/models/index.js';
import { Discretization, denoiserScalings, randn } from '../../src/samplers/index.js';
import { cfgDenoiser, prepareConditioning } from '../../src/pipeline/cfg.js';
import { encodePrompts, unetConditioningInput } from '../../src/pipeline/conditioning.js';
import { tinyModels, type TinyKind, type TinyModels } from './fixtures.js';

let models: TinyModels;
beforeAll(async () => {
  models = await tinyModels();
});
afterAll(() => models.cleanup());

const BATCH = 2;
const DIMS = [BATCH, 4, 8, 8] as const;
const SIZE = DIMS.reduce((a, b) => a * b, 1);

async function setup(kind: TinyKind) {
  const model = await loadModel(models.dirs[kind]);
  const discretization = Discretization.fromConfig(model.scheduler);
  const encoding = await encodePrompts(model, { prompts: [{ text: 'a red fox', weight: 1 }], negativePrompt: 'blurry', clipSkip: 1, batchSize: BATCH, width: 64, height: 64 });
  return { model, discretization, encoding };
}

/** The UNet's output for one kind of conditioning, called on its own. */
async function unetAlone(model: LoadedModel, input: UNetConditioningInput, x: Float32Array, sigma: number, discretization: Discretization) {
  const { cIn } = denoiserScalings(discretization.predictionType, sigma);
  const sample = { data: x.map((v) => v * cIn), dims: DIMS };
  return model.unet.run({ sample, timestep: discretization.sigmaToTimestep(sigma), conditioning: model.unet.prepareConditioning(input) });
}

function latents(sigma: number): Float32Array {
  return randn({ seed: 7, shape: [SIZE], source: 'NV' }).map((v) => v * sigma);
}

function expectClose(actual: Float32Array, expected: Float32Array, relative: number) {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(worst).toBeLessThanOrEqual(relative * scale);
}

describe.each([
  ['sd15', 1e-5],
  ['sdxl', 2e-3], // fp16 UNet
] as const)('the CFG denoiser on the tiny %s model', (kind, tolerance) => {
  it('equals uncond + s·(cond − uncond) of separate UNet calls, through the eps scalings', async () => {
    const { model, discretization, encoding } = await setup(kind);
    const sigma = 3.2;
    const x = latents(sigma);
    const before = Float32Array.from(x);
    const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, conditioningAt: async () => prepareConditioning(model, encoding, 5), cfgScale: 5, latentDims: DIMS })(x, sigma));

    const cond = await unetAlone(model, unetConditioningInput(encoding, 'cond'), x, sigma, discretization);
    const uncond = await unetAlone(model, unetConditioningInput(encoding, 'uncond'), x, sigma, discretization);
    // eps prediction: D = x − σ·ε
    const expected = x.map((v, i) => v - sigma * (uncond[i] + 5 * (cond[i] - uncond[i])));
    expectClose(denoised, expected, tolerance);
    expect(x).toEqual(before);
  });

  it('at scale 1 is the conditional prediction alone', async () => {
    const { model, discretization, encoding } = await setup(kind);
    const sigma = 0.7;
    const x = latents(sigma);
    const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, conditioningAt: async () => prepareConditioning(model, encoding, 1), cfgScale: 1, latentDims: DIMS })(x, sigma));
    const cond = await unetAlone(model, unetConditioningInput(encoding, 'cond'), x, sigma, discretization);
    expectClose(denoised, x.map((v, i) => v - sigma * cond[i]), tolerance);
  });
});

it('uses the v-prediction scalings when the scheduler says so', async () => {
  const { model, discretization: eps, encoding } = await setup('sd15');
  const alphasCumprod = Array.from(eps.sigmas, (s) => 1 / (1 + s * s));
  const discretization = new Discretization(alphasCumprod, 'v_prediction');
  const sigma = 2;
  const x = latents(sigma);
  const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, conditioningAt: async () => prepareConditioning(model, encoding, 1), cfgScale: 1, latentDims: DIMS })(x, sigma));
  const v = await unetAlone(model, unetConditioningInput(encoding, 'cond'), x, sigma, discretization);
  // D = x/(σ²+1) − σ/√(σ²+1)·v
  expectClose(denoised, x.map((value, i) => value / 5 - (2 / Math.sqrt(5)) * v[i]), 1e-5);
});

// Reference: A1111's CFGDenoiser.combine_denoised, D = D_u + Σ_j w_j·s·(D_j − D_u), with its
// default of cond and uncond at their own lengths (two UNet calls when they differ).
it('composes AND parts as A1111 does, with the prompt and negative prompt at their own lengths', async () => {
  const model = await loadModel(models.dirs.sd15);
  const discretization = Discretization.fromConfig(model.scheduler);
  const long = Array(40).fill('red cat').join(' ');
  const prompts = [{ text: 'a red fox', weight: 1 }, { text: long, weight: 0.7 }];
  const encoding = await encodePrompts(model, { prompts, negativePrompt: 'blurry', clipSkip: 1, batchSize: BATCH, width: 64, height: 64 });
  expect(encoding).toMatchObject({ sequenceLength: 154, uncondSequenceLength: 77 });
  const sigma = 2.5;
  const x = latents(sigma);
  const denoiser = cfgDenoiser({ model, discretization, conditioningAt: async () => prepareConditioning(model, encoding, 6), cfgScale: 6, latentDims: DIMS });
  const denoised = Float32Array.from(await denoiser(x, sigma));

  const uncond = await unetAlone(model, unetConditioningInput(encoding, 'uncond'), x, sigma, discretization);
  const parts: Float32Array[] = [];
  for (const prompt of prompts) {
    const alone = await encodePrompts(model, { prompts: [prompt], negativePrompt: 'blurry', clipSkip: 1, batchSize: BATCH, width: 64, height: 64 });
    parts.push(await unetAlone(model, unetConditioningInput({ ...alone, sequenceLength: encoding.sequenceLength, cond: stretch(alone.cond, alone.sequenceLength, 154) }, 'cond'), x, sigma, discretization));
  }
  const expected = x.map((v, i) => v - sigma * (uncond[i] + 6 * (parts[0][i] - uncond[i]) + 6 * 0.7 * (parts[1][i] - uncond[i])));
  expectClose(denoised, expected, 1e-5);
});

/** Rows of `tokens` lengthened to `target` with their last token vector, as stack_conds does. */
function stretch(cond: Float32Array, tokens: number, target: number): Float32Array {
  const width = 32;
  const rows = cond.length / (tokens * width);
  const out = new Float32Array(rows * target * width);
  for (let r = 0; r < rows; r++) {
    const row = cond.subarray(r * tokens * width, (r + 1) * tokens * width);
    out.set(row, r * target * width);
    for (let t = tokens; t < target; t++) out.set(row.subarray((tokens - 1) * width), (r * target + t) * width);
  }
  return out;
}
