import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel, type UNetConditioningInput } from '../../src/models/index.js';
import { Discretization, denoiserScalings, randn } from '../../src/samplers/index.js';
import { cfgDenoiser } from '../../src/pipeline/cfg.js';
import { encodePrompts, unetConditioningInput, type PromptEncoding } from '../../src/pipeline/conditioning.js';
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
  const encoding = await encodePrompts(model, { prompt: 'a red fox', negativePrompt: 'blurry', clipSkip: 1, batchSize: BATCH, width: 64, height: 64 });
  return { model, discretization, encoding };
}

/** The negative prompt's rows alone, as the UNet would get them without batching. */
function uncondOnly(encoding: PromptEncoding): UNetConditioningInput {
  const { sequenceLength, embeddingWidth, sdxl } = encoding;
  const input: UNetConditioningInput = { encoderHiddenStates: { data: encoding.uncond, dims: [BATCH, sequenceLength, embeddingWidth] } };
  if (sdxl) {
    input.textEmbeds = { data: sdxl.pooledUncond, dims: [BATCH, sdxl.pooledWidth] };
    input.timeIds = { data: sdxl.timeIds, dims: [BATCH, 6] };
  }
  return input;
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
    const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, encoding, cfgScale: 5, latentDims: DIMS })(x, sigma));

    const cond = await unetAlone(model, unetConditioningInput(encoding, false), x, sigma, discretization);
    const uncond = await unetAlone(model, uncondOnly(encoding), x, sigma, discretization);
    // eps prediction: D = x − σ·ε
    const expected = x.map((v, i) => v - sigma * (uncond[i] + 5 * (cond[i] - uncond[i])));
    expectClose(denoised, expected, tolerance);
    expect(x).toEqual(before);
  });

  it('at scale 1 is the conditional prediction alone', async () => {
    const { model, discretization, encoding } = await setup(kind);
    const sigma = 0.7;
    const x = latents(sigma);
    const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, encoding, cfgScale: 1, latentDims: DIMS })(x, sigma));
    const cond = await unetAlone(model, unetConditioningInput(encoding, false), x, sigma, discretization);
    expectClose(denoised, x.map((v, i) => v - sigma * cond[i]), tolerance);
  });
});

it('uses the v-prediction scalings when the scheduler says so', async () => {
  const { model, discretization: eps, encoding } = await setup('sd15');
  const alphasCumprod = Array.from(eps.sigmas, (s) => 1 / (1 + s * s));
  const discretization = new Discretization(alphasCumprod, 'v_prediction');
  const sigma = 2;
  const x = latents(sigma);
  const denoised = Float32Array.from(await cfgDenoiser({ model, discretization, encoding, cfgScale: 1, latentDims: DIMS })(x, sigma));
  const v = await unetAlone(model, unetConditioningInput(encoding, false), x, sigma, discretization);
  // D = x/(σ²+1) − σ/√(σ²+1)·v
  expectClose(denoised, x.map((value, i) => value / 5 - (2 / Math.sqrt(5)) * v[i]), 1e-5);
});
