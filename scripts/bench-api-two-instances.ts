/**
 * The two-instance part of `npm run bench:api`: two API processes (`api/dist/main.js`) on one
 * jongodb and one Redis (Debian's redis-server), the GPU function played by this process behind a
 * local Invoke server (it holds jobs; the bench posts their callbacks). Measures:
 *
 *   events      a progress callback posted to the instance running the job → each of 200
 *               subscribers, half on each instance, receiving it (Redis in between for half)
 *   throughput  generateImage requests per second on one instance, then spread over both
 *
 * Targets: events p50 under 10 ms, p99 under 50 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import sharp from 'sharp';
import { startLocalInvoke } from '@easel/gpu-runtime/local-invoke';
import { GenerationJob, SIGNATURE_HEADER, signBody } from '@easel/schema';
import { startJongodb } from '@easel/api/jongodb';
import type { SubscribersInput, SubscribersMessage } from './bench-api-subscribers.js';

const SUBSCRIBERS = 200;
const EVENTS = 50;
const THROUGHPUT_SECONDS = 3;
const IN_FLIGHT = 16;
const DEV_KEY = `easel_${'b'.repeat(40)}`;
const SMALL_JOB = { modelId: 'tiny-sd15', prompt: 'a lighthouse at dusk', enhancePrompt: false, width: 64, height: 64, steps: 2 };
/** Compiled into scripts/dist/. */
const REPO = path.resolve(import.meta.dirname, '../..');

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];
const ms = (value: number) => `${value.toFixed(2)} ms`;
const summary = (values: number[]) => `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))} (n=${values.length})`;
const epochNow = () => performance.timeOrigin + performance.now();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a process and resolves when a stdout line gives `ready` a value. */
function startProcess(command: string, args: string[], env: Record<string, string>, ready: (line: string) => string | undefined): Promise<{ child: ChildProcess; value: string }> {
  const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  // However the bench ends (a failure included), nothing it started outlives it.
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited (code ${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const value = ready(line);
      if (value !== undefined) resolve({ child, value });
    });
  });
}

export async function benchTwoInstances(modelsDir: string): Promise<void> {
  if (!existsSync('/usr/bin/redis-server')) {
    console.log('two instances: skipped, /usr/bin/redis-server is missing (apt-get install -y redis-server)');
    return;
  }
  const redisPort = await freePort();
  const redis = await startProcess('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', ''], {}, (line) =>
    line.includes('Ready to accept connections') ? 'ready' : undefined,
  );
  const database = await startJongodb(pino({ level: 'silent' }));

  // The GPU function: holds every job, so the bench can post its callbacks.
  const invocations: Array<(job: GenerationJob) => void> = [];
  const lambda = await startLocalInvoke({
    functions: {
      'easel-gpu': async (event) => {
        const job = GenerationJob.parse(event);
        for (const waiter of invocations.splice(0)) waiter(job);
      },
    },
    maxConcurrency: 64,
  });

  const env = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    MODELS_DIR: modelsDir,
    MONGODB_URI: database.uri.replace(/\/[^/]*$/, '/easel_bench'),
    LAMBDA_ENDPOINT: lambda.url,
    GPU_CONCURRENCY: '64',
    PLUS_CONCURRENCY: '64',
    JOB_LEASE_SECONDS: '600',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DEV_API_KEY: DEV_KEY,
    PLUS_DAILY_TOKENS: '1000000',
    FREE_DAILY_TOKENS: '1000000',
    // Every request and socket comes from this one address: per-address and per-user limits off.
    RATE_LIMIT_GENERATE: '100000000',
    RATE_LIMIT_WS_CONNECTS: '100000000',
  };
  const readyUrl = (line: string) => (line.includes('Easel API ready') ? (JSON.parse(line) as { url: string }).url.replace(/\/graphql$/, '') : undefined);
  const main = path.join(REPO, 'api/dist/main.js');
  const a = await startProcess(process.execPath, [main], { ...env, PORT: String(await freePort()) }, readyUrl);
  const b = await startProcess(process.execPath, [main], { ...env, PORT: String(await freePort()) }, readyUrl);
  const instances = [a.value, b.value];

  async function graphql(url: string, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_KEY}` },
      body: JSON.stringify({ query, variables }),
    });
    const result = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
    if (result.errors) throw new Error(`GraphQL error: ${JSON.stringify(result.errors)}`);
    return result.data!;
  }
  const generateImage = async (url: string, input: Record<string, unknown> = SMALL_JOB): Promise<string> =>
    (await graphql(url, 'mutation ($input: GenerateImageInput!) { generateImage(input: $input) { id } }', { input })).generateImage.id;

  // --- events across instances ----------------------------------------------------------------
  const invoked = new Promise<GenerationJob>((resolve) => invocations.push(resolve));
  const followed = await generateImage(instances[1], { ...SMALL_JOB, steps: EVENTS });
  const job = await invoked;
  const workers = instances.map(
    (url) =>
      new Worker(new URL('./bench-api-subscribers.js', import.meta.url), {
        workerData: { url: `${url.replace(/^http/, 'ws')}/graphql`, key: DEV_KEY, generationId: followed, count: SUBSCRIBERS / 2 } satisfies SubscribersInput,
      }),
  );
  const messages: SubscribersMessage[][] = [[], []];
  const waiters: Array<() => void> = [];
  workers.forEach((worker, i) =>
    worker.on('message', (message: SubscribersMessage) => {
      messages[i].push(message);
      waiters.splice(0).forEach((wake) => wake());
    }),
  );
  async function fromBoth<T extends SubscribersMessage['type']>(type: T, test: (m: Extract<SubscribersMessage, { type: T }>) => boolean = () => true) {
    const found: Extract<SubscribersMessage, { type: T }>[] = [];
    for (const list of messages) {
      for (;;) {
        const match = list.find((m): m is Extract<SubscribersMessage, { type: T }> => m.type === type && test(m as Extract<SubscribersMessage, { type: T }>));
        if (match) {
          found.push(match);
          break;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    }
    return found;
  }
  let sequence = 0;
  const callback = async (event: Record<string, unknown>) => {
    const body = JSON.stringify({ jobId: job.jobId, attempt: job.attempt, sequence: sequence++, at: Date.now(), ...event });
    const response = await fetch(job.callback.url, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(job.callback.secret, body) }, body });
    if (response.status !== 200) throw new Error(`the callback answered ${response.status}`);
  };
  const preview = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 120, b: 200 } } }).webp().toBuffer();
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'black' } }).png().toBuffer();
  await fromBoth('subscribed');
  await callback({ type: 'started' });
  const sentAt: number[] = [];
  for (let step = 1; step <= EVENTS; step++) {
    sentAt[step] = epochNow();
    await callback({ type: 'progress', step, totalSteps: EVENTS, previewWebp: preview.toString('base64') });
    await fromBoth('step', (m) => m.step === step);
  }
  await callback({ type: 'completed', images: [{ png: png.toString('base64'), seed: 1, width: 64, height: 64 }], timings: { loadMs: 0, inferenceMs: 1, totalMs: 1 } });
  const arrivals = await fromBoth('arrivals');
  await Promise.all(workers.map((worker) => worker.terminate()));
  const latencies = arrivals.flatMap(({ arrivals: byStep }) => Object.entries(byStep).flatMap(([step, times]) => times.map((at) => at - sentAt[Number(step)])));
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(`two instances on Redis, event latency, ${SUBSCRIBERS} subscribers (${SUBSCRIBERS / 2} on each), ${EVENTS} events: ${summary(latencies)}`);
  console.log(`  ${p50 < 10 && p99 < 50 ? 'within' : 'OUTSIDE'} the targets (p50 under 10 ms, p99 under 50 ms)\n`);

  // --- throughput: one instance, then both ------------------------------------------------------
  async function throughput(urls: string[]): Promise<number> {
    let done = 0;
    const until = performance.now() + THROUGHPUT_SECONDS * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async (_, i) => {
        while (performance.now() < until) {
          await generateImage(urls[i % urls.length]);
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  }
  const one = await throughput([instances[0]]);
  const two = await throughput(instances);
  console.log(`two instances on Redis, generateImage throughput, ${IN_FLIGHT} requests in flight for ${THROUGHPUT_SECONDS} s:`);
  console.log(`  one instance:  ${one.toFixed(0)} requests/s`);
  console.log(`  two instances: ${two.toFixed(0)} requests/s, ${(two / one).toFixed(2)}x one (${process.env.BENCH_NOTE ?? 'one database, this machine\'s CPUs shared by all processes'})`);

  for (const child of [a.child, b.child, redis.child]) child.kill('SIGTERM');
  await lambda.close();
  await database.stop();
}
