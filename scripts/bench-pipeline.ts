/**
 * `npm run bench:pipeline`: what the generation loop costs around the model, on the tiny models,
 * at SD 1.5's 64×64 latent (512² images), SDXL's 128×128 (1024²) and Flux's 128×128 latent
 * packed into 4096 tokens (1024²; packing, flow Euler, unpacking for previews; target under
 * 2.5 ms, 1% of a FLUX.1 transformer step on an H100).
 *
 * Every `session.run` is timed by wrapping onnxruntime's InferenceSession.prototype.run. A step
 * of a one-call sampler spans from one UNet run's start to the next one's, so
 *
 *   outside ONNX = step − UNet session.run
 *
 * is everything else the loop does per step: c_in scaling and the CFG batch copy, fp16
 * conversions of the latents in and out, the guidance mix, the sampler update, progress.
 *
 * The pipeline draws the next step's noise and maps the last preview right after starting a run,
 * meaning to fill the time the model computes. onnxruntime-node 1.30 does not overlap them: its
 * run waits for a setImmediate and then computes synchronously on the JS thread (CPU or GPU alike),
 * so that work delays the run's start. It is timed on its own ("JS work before the graph starts") and counted
 * outside ONNX: outside = step − (session.run − that work). Also reported: the preview on
 * its own, and cold versus warm model load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { ModelFamily, SamplerId, ScheduleId } from '@easel/schema';
import { loadFluxModel, loadModel, unloadFluxModel, unloadModel } from '@easel/gpu-runtime/models';
import { generate } from '@easel/gpu-runtime/pipeline';
import { NoisePrefetcher } from '@easel/gpu-runtime/pipeline';
import { encodePng, encodePreview, latentToRgb, ProgressReporter } from '@easel/gpu-runtime/pipeline';
import sharp from 'sharp';
import { randn } from '@easel/gpu-runtime/samplers';
import { makeTinyModels } from '@easel/gpu-runtime/tiny-models';

const STEPS = 20;
const RUNS = 3;

interface Run {
  start: number;
  end: number;
  /** JS work done while this run computed. */
  idle: number;
}

let idleWork = 0;
function timeIdleWork<T extends object>(prototype: T, method: keyof T & string): void {
  const original = prototype[method] as (...args: unknown[]) => unknown;
  (prototype as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      idleWork += performance.now() - start;
    }
  };
}
timeIdleWork(NoisePrefetcher.prototype, 'prefetch');
timeIdleWork(ProgressReporter.prototype, 'drawPendingPreview');

/** UNet or Flux transformer session runs (the only graphs with a `timestep` input), in order. */
const unetRuns: Run[] = [];
// The typings describe a factory; at run time InferenceSession is a class whose instances share `run`.
const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
const originalRun = sessions.run;
sessions.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof originalRun>) {
  const start = performance.now();
  idleWork = 0;
  try {
    return await originalRun.apply(this, args);
  } finally {
    if ('timestep' in args[0]) unetRuns.push({ start, end: performance.now(), idle: idleWork });
  }
} as typeof originalRun;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number) => `${value.toFixed(3)} ms`;

interface Case {
  label: string;
  model: 'tiny-sd15' | 'tiny-sdxl' | 'tiny-flux';
  family: ModelFamily;
  size: number;
  /** Sampler, preview every N steps. */
  runs: readonly (readonly [SamplerId, number])[];
  schedule: ScheduleId;
  cfgScale: number;
  architecture: 'sd1' | 'sdxl' | 'flux';
}

const SD_RUNS = [['euler', 0], ['dpmpp_2m', 0], ['euler_a', 0], ['dpmpp_2m_sde', 0], ['euler', 1]] as const;
const SD = { runs: SD_RUNS, schedule: 'karras', cfgScale: 7 } as const;

const CASES: Case[] = [
  { label: '64x64 latent (SD 1.5 layout, fp32, 512x512)', model: 'tiny-sd15', family: 'SD15', size: 512, architecture: 'sd1', ...SD },
  { label: '128x128 latent (SDXL layout, fp16, 1024x1024)', model: 'tiny-sdxl', family: 'SDXL', size: 1024, architecture: 'sdxl', ...SD },
  {
    label: '128x128x16 latent as 4096 tokens (FLUX.1 [dev] layout, fp16, 1024x1024; no CFG: one transformer call per step)',
    model: 'tiny-flux',
    family: 'FLUX',
    size: 1024,
    architecture: 'flux',
    runs: [['euler', 0], ['euler', 1]],
    schedule: 'normal',
    cfgScale: 1,
  },
];
/** A FLUX.1 transformer step at 1024² on an H100 is about 250 ms; the loop around it should stay under 1% of that. */
const FLUX_OUTSIDE_TARGET_MS = 2.5;

async function stepCosts(dir: string, c: Case, sampler: SamplerId, previewEvery: number) {
  const steps: number[] = [];
  const inside: number[] = [];
  const idle: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    unetRuns.length = 0;
    await generate(
      {
        modelDir: dir,
        model: { id: c.model, name: c.model, family: c.family, path: c.model },
        prompt: 'a watercolour fox in the snow, (detailed:1.2)',
        negativePrompt: c.family === 'FLUX' ? '' : 'blurry',
        width: c.size,
        height: c.size,
        steps: STEPS,
        cfgScale: c.cfgScale,
        sampler,
        schedule: c.schedule,
        seed: 42 + run,
        previewEvery,
      },
      { onProgress: () => undefined },
    );
    // The last step ends in no further UNet run, so it is left out.
    for (let i = 0; i + 1 < unetRuns.length; i++) {
      steps.push(unetRuns[i + 1].start - unetRuns[i].start);
      inside.push(unetRuns[i].end - unetRuns[i].start);
      idle.push(unetRuns[i].idle);
    }
  }
  const outside = steps.map((step, i) => step - (inside[i] - idle[i]));
  return { step: median(steps), session: median(inside), idle: median(idle), outside: median(outside) };
}

async function previewCost(side: number, architecture: Case['architecture']) {
  const latents = randn({ seed: 3, shape: [architecture === 'flux' ? 16 : 4, side, side], source: 'NV' });
  const mapTimes: number[] = [];
  const totalTimes: number[] = [];
  for (let i = 0; i < 60; i++) {
    const start = performance.now();
    const rgb = latentToRgb(latents, side, side, architecture, architecture === 'flux' ? 'packed' : 'planar'); // as the loop maps them
    const mapped = performance.now();
    await encodePreview(rgb, side, side);
    if (i >= 10) {
      mapTimes.push(mapped - start);
      totalTimes.push(performance.now() - start);
    }
  }
  return { map: median(mapTimes), total: median(totalTimes) };
}

/**
 * The final PNG of a 1024² image with detail in every pixel (as a generated image has; about
 * 2.7 MB): sharp's encode alone, and with the infotext chunk added as the pipeline adds it.
 */
async function pngCost() {
  const side = 1024;
  const rgb = new Uint8Array(side * side * 3);
  for (let i = 0, state = 1; i < rgb.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    rgb[i] = (state >>> 24) & (i % 2 ? 0xff : 0xf0); // noise, a little compressible
  }
  const infotext = { parameters: `a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: ${side}x${side}` };
  const plain: number[] = [];
  const withText: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 7; i++) {
    let start = performance.now();
    await sharp(rgb, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
    plain.push(performance.now() - start);
    start = performance.now();
    bytes = (await encodePng(rgb, side, side, infotext)).length;
    withText.push(performance.now() - start);
  }
  return { side, bytes, plain: median(plain), withText: median(withText) };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'easel-bench-'));
  try {
    const dirs = await makeTinyModels(root);
    console.log(`bench:pipeline: tiny models, batch 1, CFG 7 (one batch-2 UNet call per step), ${STEPS} Karras steps, median over ${RUNS} runs`);
    console.log(`onnxruntime-node ${ort.env.versions.common}, Node ${process.version}, ${os.cpus().length} CPUs`);

    // `npm run bench:pipeline -- flux` runs only the cases whose model name contains "flux".
    const only = process.argv[2];
    for (const c of CASES.filter((c) => only === undefined || c.model.includes(only))) {
      const dir = dirs[c.model];
      console.log(`\n${c.label}`);

      const [load, unload] = c.family === 'FLUX' ? [loadFluxModel, unloadFluxModel] : [loadModel, unloadModel];
      let start = performance.now();
      await load(dir);
      const cold = performance.now() - start;
      start = performance.now();
      await load(dir);
      const warm = performance.now() - start;
      await unload(dir);
      start = performance.now();
      await load(dir);
      const reload = performance.now() - start;
      const first = c === CASES[0] ? ', onnxruntime start-up included' : '';
      console.log(`  model load: cold ${ms(cold)} (first load${first}), reload ${ms(reload)} (new sessions, files in the OS cache), warm ${ms(warm)} (cached sessions)`);

      await stepCosts(dir, c, 'euler', 0); // warm up the JIT and onnxruntime's first runs
      for (const [sampler, previewEvery] of c.runs) {
        const { step, session, idle, outside } = await stepCosts(dir, c, sampler, previewEvery);
        const what = `${sampler}${previewEvery ? ', preview every step' : ''}`.padEnd(30);
        const target = c.family === 'FLUX' ? `; target ${ms(FLUX_OUTSIDE_TARGET_MS)}: ${((100 * outside) / FLUX_OUTSIDE_TARGET_MS).toFixed(0)}% of it` : '';
        console.log(
          `  ${what} step ${ms(step)}  session.run ${ms(session)} (of it, JS work before the graph starts: ${ms(idle)})  outside ONNX ${ms(outside)} (${((100 * outside) / step).toFixed(1)}% of the step${target})`,
        );
      }

      const side = c.size / 8;
      const preview = await previewCost(side, c.architecture);
      console.log(`  preview ${side}x${side}: latent->RGB ${ms(preview.map)} in the loop, with the WebP encode ${ms(preview.total)} in all`);
    }

    // `npm run bench:pipeline -- png` runs only this.
    if (only === undefined || only === 'png') {
      const png = await pngCost();
      console.log(`\nPNG ${png.side}x${png.side} (${(png.bytes / 1024 ** 2).toFixed(1)} MB): sharp's encode ${ms(png.plain)}, with the infotext chunk ${ms(png.withText)} (+${ms(png.withText - png.plain)})`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
