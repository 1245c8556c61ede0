/**
 * `npm run bench:pipeline`: what the generation loop costs around the model, on the tiny models,
 * at SD 1.5's 64×64 latent (512² images) and SDXL's 128×128 (1024²).
 *
 * Every `session.run` is timed by wrapping onnxruntime's InferenceSession.prototype.run. A step
 * of a one-call sampler spans from one UNet run's start to the next one's, so
 *
 *   outside ONNX = step − UNet session.run
 *
 * is everything else the loop does per step: c_in scaling and the CFG batch copy, fp16
 * conversions of the latents in and out, the guidance mix, the sampler update, progress.
 *
 * The pipeline draws the next step's noise and maps the last preview while the UNet runs (the JS
 * thread is idle then). That work is timed on its own ("idle-time work"): on a GPU it hides
 * behind the model; where it outlasts a run, as with the tiny models on a small CPU, the run
 * seems longer to JS by the difference (and on a machine with few cores it competes with
 * onnxruntime's CPU threads). Also reported: the preview on its own, and cold versus warm model
 * load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { SamplerId } from '@easel/schema';
import { loadModel, unloadModel } from '@easel/gpu-runtime/models';
import { generate } from '@easel/gpu-runtime/pipeline';
import { NoisePrefetcher } from '@easel/gpu-runtime/pipeline';
import { encodePreview, latentToRgb, ProgressReporter } from '@easel/gpu-runtime/pipeline';
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

/** UNet session runs (the only graph with a `timestep` input), in order. */
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
  model: 'tiny-sd15' | 'tiny-sdxl';
  family: 'SD15' | 'SDXL';
  size: number;
}

const CASES: Case[] = [
  { label: '64x64 latent (SD 1.5 layout, fp32, 512x512)', model: 'tiny-sd15', family: 'SD15', size: 512 },
  { label: '128x128 latent (SDXL layout, fp16, 1024x1024)', model: 'tiny-sdxl', family: 'SDXL', size: 1024 },
];

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
        negativePrompt: 'blurry',
        width: c.size,
        height: c.size,
        steps: STEPS,
        cfgScale: 7,
        sampler,
        schedule: 'karras',
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
  const outside = steps.map((step, i) => step - inside[i]);
  return { step: median(steps), session: median(inside), idle: median(idle), outside: median(outside) };
}

async function previewCost(side: number, architecture: 'sd1' | 'sdxl') {
  const latents = randn({ seed: 3, shape: [4, side, side], source: 'NV' });
  const mapTimes: number[] = [];
  const totalTimes: number[] = [];
  for (let i = 0; i < 60; i++) {
    const start = performance.now();
    const rgb = latentToRgb(latents, side, side, architecture);
    const mapped = performance.now();
    await encodePreview(rgb, side, side);
    if (i >= 10) {
      mapTimes.push(mapped - start);
      totalTimes.push(performance.now() - start);
    }
  }
  return { map: median(mapTimes), total: median(totalTimes) };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'easel-bench-'));
  try {
    const dirs = await makeTinyModels(root);
    console.log(`bench:pipeline: tiny models, batch 1, CFG 7 (one batch-2 UNet call per step), ${STEPS} Karras steps, median over ${RUNS} runs`);
    console.log(`onnxruntime-node ${ort.env.versions.common}, Node ${process.version}, ${os.cpus().length} CPUs`);

    for (const c of CASES) {
      const dir = dirs[c.model];
      console.log(`\n${c.label}`);

      let start = performance.now();
      await loadModel(dir);
      const cold = performance.now() - start;
      start = performance.now();
      await loadModel(dir);
      const warm = performance.now() - start;
      await unloadModel(dir);
      start = performance.now();
      await loadModel(dir);
      const reload = performance.now() - start;
      const first = c === CASES[0] ? ', onnxruntime start-up included' : '';
      console.log(`  model load: cold ${ms(cold)} (first load${first}), reload ${ms(reload)} (new sessions, files in the OS cache), warm ${ms(warm)} (cached sessions)`);

      await stepCosts(dir, c, 'euler', 0); // warm up the JIT and onnxruntime's first runs
      for (const [sampler, previewEvery] of [
        ['euler', 0],
        ['dpmpp_2m', 0],
        ['euler_a', 0],
        ['dpmpp_2m_sde', 0],
        ['euler', 1],
      ] as const) {
        const { step, session, idle, outside } = await stepCosts(dir, c, sampler, previewEvery);
        const what = `${sampler}${previewEvery ? ', preview every step' : ''}`.padEnd(30);
        console.log(
          `  ${what} step ${ms(step)}  session.run ${ms(session)} (idle-time work ${ms(idle)})  outside ONNX ${ms(outside)} (${((100 * outside) / step).toFixed(1)}% of the step)`,
        );
      }

      const side = c.size / 8;
      const preview = await previewCost(side, c.family === 'SD15' ? 'sd1' : 'sdxl');
      console.log(`  preview ${side}x${side}: latent->RGB ${ms(preview.map)} in the loop, with the WebP encode ${ms(preview.total)} in all`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
