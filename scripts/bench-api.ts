/**
 * `npm run bench:api`: what the API itself adds around a generation, on this machine. It starts
 * the real server (jongodb, the dispatcher, the AWS Lambda client) and the local Invoke server
 * with the GPU function on the tiny models, all in this process, then measures:
 *
 *   dispatch  a generation accepted (stored QUEUED and announced) → the function invoked
 *   events    a progress callback sent to the API → each of 200 WebSocket subscribers receiving it
 *   throughput  generateImage requests per second, beside a trivial query, in the same run
 *   limits    the event loop's largest delay while a burst of the most expensive queries the
 *             query limits allow runs; the throughput above with every limit on, as a ratio to
 *             the same run on a server with them all off
 *
 * Targets: dispatch under 10 ms p50, events under 5 ms p50, the loop's delay under 100 ms, the
 * ratios above 0.9. Then the same events and throughput on two API instances sharing Redis
 * (bench-api-two-instances.ts), alone with `npm run bench:api -- two-instances`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import sharp from 'sharp';
import { loadFunctionConfig } from '@easel/gpu-runtime';
import { createHandler } from '@easel/gpu-runtime';
import { startLocalInvoke } from '@easel/gpu-runtime/local-invoke';
import { GenerationJob } from '@easel/schema';
import { SIGNATURE_HEADER, signBody } from '@easel/schema';
import { loadConfig } from '@easel/api';
import { ALL_GENERATIONS_TOPIC, type PublishedGeneration } from '@easel/api';
import { FIELD_COSTS, startServer } from '@easel/api';
import type { SubscribersInput, SubscribersMessage } from './bench-api-subscribers.js';
import { makeTinyModels } from '@easel/gpu-runtime/tiny-models';
import { benchTwoInstances } from './bench-api-two-instances.js';

const DISPATCH_SAMPLES = 100;
const DISPATCH_WARMUP = 5;
const SUBSCRIBERS = 200;
const EVENTS = 50;
const THROUGHPUT_SECONDS = 3;
const IN_FLIGHT = 16;

const SMALL_JOB = { modelId: 'tiny-sd15', prompt: 'a lighthouse at dusk', enhancePrompt: false, width: 64, height: 64, steps: 2 };

const epochNow = () => performance.timeOrigin + performance.now();

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const summary = (values: number[]) => `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))} (n=${values.length})`;
const verdict = (value: number, target: number) => (value < target ? `under the ${target} ms target` : `OVER the ${target} ms target`);

// --- the machinery: models, the function behind a local Invoke server, the API -----------------

const workDir = await mkdtemp(path.join(os.tmpdir(), 'easel-bench-api-'));
const modelsDir = path.join(workDir, 'models');
await makeTinyModels(modelsDir);
if (process.argv[2] === 'two-instances') {
  // `npm run bench:api -- two-instances`: only the part on two instances and Redis.
  await benchTwoInstances(modelsDir);
  await rm(workDir, { recursive: true, force: true });
  process.exit(0);
}

/** What the function does with a job: run it for real, or hold it (the bench plays the function). */
let functionMode: 'run' | 'hold' = 'run';
const invocations: Array<(job: GenerationJob, at: number) => void> = [];
const held: GenerationJob[] = [];
const silent = pino({ level: 'silent' });
const runJob = createHandler(loadFunctionConfig({ MODELS_DIR: modelsDir }), silent);
const lambda = await startLocalInvoke({
  functions: {
    'easel-gpu': async (event, context) => {
      const at = performance.now();
      const job = GenerationJob.parse(event);
      for (const waiter of invocations.splice(0)) waiter(job, at);
      if (functionMode === 'hold') return void held.push(job);
      return runJob(job, context);
    },
  },
  maxConcurrency: 4,
});

/**
 * Every limit on, at the defaults, but the per-user rate limits raised so that the bench's one
 * user is counted, never refused (OFF: every limit 0).
 */
const LIMITS_ON = { RATE_LIMIT_GENERATE: '100000000', RATE_LIMIT_ANALYZE: '100000000', RATE_LIMIT_WS_CONNECTS: '100000000' };
const LIMITS_OFF = Object.fromEntries(
  ['RATE_LIMIT_GENERATE', 'RATE_LIMIT_ANALYZE', 'RATE_LIMIT_UPLOADS', 'RATE_LIMIT_AUTH_FAILURES', 'RATE_LIMIT_WS_CONNECTS', 'QUERY_MAX_ALIASES', 'QUERY_MAX_DEPTH', 'QUERY_MAX_TOKENS', 'QUERY_MAX_COST'].map((name) => [name, '0']),
);

const configWith = (limits: Record<string, string>) => loadConfig({
  NODE_ENV: 'production',
  // The bench's data is thrown away: the in-memory database is what it wants.
  ALLOW_MEMORY_DATABASE: 'true',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'warn',
  MODELS_DIR: modelsDir,
  DATA_DIR: path.join(workDir, 'data'),
  LAMBDA_ENDPOINT: lambda.url,
  GPU_CONCURRENCY: '2',
  JOB_LEASE_SECONDS: '600',
  ...limits,
});
let server = await startServer(configWith(LIMITS_ON), { embeddedDatabase: 'jongodb' });
let { user, key } = await server.services.accounts.createUser({ name: 'bench', plan: 'PLUS' });
await server.services.tokens.grant({ userId: user.id, plan: 'PLUS' }, { amount: 1_000_000, reason: 'benchmark' });

/** When each generation was accepted, and who waits for one to end. */
const acceptedAt = new Map<string, number>();
const endings = new Map<string, () => void>();
void (async () => {
  // The topic for all generations has no id; the pubsub's typing wants one for every topic.
  const subscribe = server.services.pubSub.subscribe as unknown as (topic: string) => AsyncIterable<unknown>;
  for await (const published of subscribe.call(server.services.pubSub, ALL_GENERATIONS_TOPIC)) {
    const generation = published as PublishedGeneration;
    const id = generation._id.toHexString();
    if (generation.status === 'QUEUED' && generation.attempt === 0 && !acceptedAt.has(id)) acceptedAt.set(id, performance.now());
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(generation.status)) endings.get(id)?.();
  }
})();

async function graphql(query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (result.errors) throw new Error(`GraphQL error: ${JSON.stringify(result.errors)}`);
  return result.data!;
}

const generateImage = async (input: Record<string, unknown> = SMALL_JOB): Promise<string> =>
  (await graphql('mutation ($input: GenerateImageInput!) { generateImage(input: $input) { id } }', { input })).generateImage.id;

const nextInvocation = () => new Promise<{ job: GenerationJob; at: number }>((resolve) => invocations.push((job, at) => resolve({ job, at })));
const ended = (id: string) => new Promise<void>((resolve) => endings.set(id, resolve));

// --- dispatch latency ------------------------------------------------------------------------

console.log(`Easel API benchmark: Node ${process.version}, ${os.cpus().length} CPUs, database ${server.database.kind}, GPU function in-process (tiny models)\n`);

const dispatch: number[] = [];
for (let i = 0; i < DISPATCH_WARMUP + DISPATCH_SAMPLES; i++) {
  const invoked = nextInvocation();
  const id = await generateImage();
  const done = ended(id);
  const { job, at } = await invoked;
  if (job.jobId !== id) throw new Error('the function was invoked for another job');
  if (i >= DISPATCH_WARMUP) dispatch.push(at - acceptedAt.get(id)!);
  await done; // one at a time: each measures an idle dispatcher, not a queue
}
console.log(`dispatch latency, generation accepted → function invoked: ${summary(dispatch)}`);
console.log(`  ${verdict(percentile(dispatch, 50), 10)}\n`);

// --- event latency ---------------------------------------------------------------------------

/**
 * Plays the GPU function for one held job: posts EVENTS signed progress callbacks (each with a
 * WebP preview), one at a time, and times each until every subscriber has it.
 */
async function eventLatency(subscriberCount: number): Promise<{ perSubscriber: number[]; lastSubscriber: number[] }> {
  const invoked = nextInvocation();
  const followed = await generateImage({ ...SMALL_JOB, steps: EVENTS });
  const { job } = await invoked;
  const subscribers = new Worker(new URL('./bench-api-subscribers.js', import.meta.url), {
    workerData: { url: `${server.url.replace(/^http/, 'ws')}/graphql`, key, generationId: followed, count: subscriberCount } satisfies SubscribersInput,
  });
  const messages: SubscribersMessage[] = [];
  const waiters: Array<() => void> = [];
  subscribers.on('message', (message: SubscribersMessage) => {
    messages.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  subscribers.on('error', (error) => {
    console.error('the subscribers failed:', error);
    process.exit(1);
  });
  async function message<T extends SubscribersMessage['type']>(type: T, test: (m: Extract<SubscribersMessage, { type: T }>) => boolean = () => true) {
    for (;;) {
      const found = messages.find((m): m is Extract<SubscribersMessage, { type: T }> => m.type === type && test(m as Extract<SubscribersMessage, { type: T }>));
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  let sequence = 0;
  async function callback(event: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify({ jobId: job.jobId, attempt: job.attempt, sequence: sequence++, at: Date.now(), ...event });
    const response = await fetch(job.callback.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(job.callback.secret, body) },
      body,
    });
    if (response.status !== 200) throw new Error(`the callback answered ${response.status}: ${await response.text()}`);
  }

  await message('subscribed');
  await callback({ type: 'started' });
  const sentAt: number[] = [];
  for (let step = 1; step <= EVENTS; step++) {
    sentAt[step] = epochNow();
    await callback({ type: 'progress', step, totalSteps: EVENTS, previewWebp: preview.toString('base64') });
    await message('step', (m) => m.step === step);
  }
  await callback({ type: 'completed', images: [{ png: png.toString('base64'), seed: 1, width: 64, height: 64 }], timings: { loadMs: 0, inferenceMs: 1, totalMs: 1 } });
  const { arrivals } = await message('arrivals');
  await subscribers.terminate();

  const perSubscriber: number[] = [];
  const lastSubscriber: number[] = [];
  for (let step = 1; step <= EVENTS; step++) {
    const latencies = arrivals[step].map((at) => at - sentAt[step]);
    perSubscriber.push(...latencies);
    lastSubscriber.push(Math.max(...latencies));
  }
  return { perSubscriber, lastSubscriber };
}

functionMode = 'hold';
const preview = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 120, b: 200 } } }).webp().toBuffer();
const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'black' } }).png().toBuffer();
const alone = await eventLatency(1);
const crowd = await eventLatency(SUBSCRIBERS);
console.log(`event latency, progress callback sent → subscriber received, ${EVENTS} events with a WebP preview each:`);
console.log(`  1 subscriber:                     ${summary(alone.perSubscriber)}`);
console.log(`  ${SUBSCRIBERS} subscribers, each:            ${summary(crowd.perSubscriber)}`);
console.log(`  ${SUBSCRIBERS} subscribers, the last of them: ${summary(crowd.lastSubscriber)}`);
const fanOut = (percentile(crowd.lastSubscriber, 50) - percentile(alone.perSubscriber, 50)) / (SUBSCRIBERS - 1);
console.log(`  fan-out: about ${(fanOut * 1000).toFixed(0)} µs per extra subscriber`);
console.log(`  with ${SUBSCRIBERS} subscribers: ${verdict(percentile(crowd.perSubscriber, 50), 5)}\n`);

// --- throughput -------------------------------------------------------------------------------

/** Runs `request` from IN_FLIGHT concurrent callers for THROUGHPUT_SECONDS. */
async function throughput(request: () => Promise<unknown>): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  const until = performance.now() + THROUGHPUT_SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        const begun = performance.now();
        await request();
        latencies.push(performance.now() - begun);
      }
    }),
  );
  return { perSecond: latencies.length / ((performance.now() - start) / 1000), latencies };
}

const trivial = await throughput(() => graphql('{ me { id } }'));
const generations = await throughput(() => generateImage());
console.log(`throughput, ${IN_FLIGHT} requests in flight for ${THROUGHPUT_SECONDS} s each:`);
console.log(`  trivial query { me { id } }: ${trivial.perSecond.toFixed(0)} requests/s, latency ${summary(trivial.latencies)}`);
console.log(`  generateImage:               ${generations.perSecond.toFixed(0)} requests/s, latency ${summary(generations.latencies)}`);
console.log(`  generateImage runs at ${((generations.perSecond / trivial.perSecond) * 100).toFixed(0)}% of the trivial query's rate\n`);

// --- limits: the worst a query may do, and what the limits cost --------------------------------

/** As many analyzePrompt fields as the limits allow (one more than the aliases), each at the longest prompts. */
const longest = 'masterpiece, (a lighthouse at dusk:1.2), [fog], oil painting, '.repeat(200).slice(0, 10_000);
const { queryLimits } = server.services.config;
const analyses = Math.min(queryLimits.aliases + 1, Math.floor(queryLimits.cost / FIELD_COSTS['Query.analyzePrompt']));
const worstQuery = `query ($p: String!) { ${Array.from({ length: analyses }, (_, i) => `${i ? `a${i}: ` : ''}analyzePrompt(modelId: "tiny-sd15", prompt: $p, negativePrompt: $p) { prompt { tokenCount warnings { code } } negativePrompt { tokenCount } enhancedPrompt }`).join(' ')} }`;
const BURST = 4;
await graphql(worstQuery, { p: longest }); // warm: the tokenizer is loaded once
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const burstStart = performance.now();
await Promise.all(Array.from({ length: BURST }, () => graphql(worstQuery, { p: longest })));
const burstMs = performance.now() - burstStart;
loop.disable();
const worstDelay = loop.max / 1e6;
console.log(`limits: ${BURST} requests at once, each ${analyses} analyzePrompt fields on two 10,000-character prompts (the most the query limits allow), ${burstMs.toFixed(0)} ms in all:`);
console.log(`  largest event loop delay: ${ms(worstDelay)}, ${verdict(worstDelay, 100)}`);

/** Trivial query and generateImage throughput on the running server, run after run. */
const throughputs = async () => ({ trivial: (await throughput(() => graphql('{ me { id } }'))).perSecond, generate: (await throughput(() => generateImage())).perSecond });

async function restart(limits: Record<string, string>): Promise<void> {
  await server.close();
  server = await startServer(configWith(limits), { embeddedDatabase: 'jongodb' });
  ({ user, key } = await server.services.accounts.createUser({ name: 'bench', plan: 'PLUS' }));
  await server.services.tokens.grant({ userId: user.id, plan: 'PLUS' }, { amount: 1_000_000, reason: 'benchmark' });
}

// On and off twice, alternating, on fresh servers: a busy machine's drift falls on both alike.
const runs: Record<'on' | 'off', { trivial: number; generate: number }[]> = { on: [], off: [] };
for (const round of [0, 1]) {
  for (const mode of round === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    await restart(mode === 'on' ? LIMITS_ON : LIMITS_OFF);
    runs[mode].push(await throughputs());
  }
}
const mean = (mode: 'on' | 'off', field: 'trivial' | 'generate') => runs[mode].reduce((sum, run) => sum + run[field], 0) / runs[mode].length;
for (const [field, label] of [['trivial', 'trivial query'], ['generate', 'generateImage']] as const) {
  const ratio = mean('on', field) / mean('off', field);
  console.log(`  ${label}: ${mean('on', field).toFixed(0)} requests/s with the limits on, ${mean('off', field).toFixed(0)} off: ratio ${ratio.toFixed(2)}, ${ratio > 0.9 ? 'above' : 'BELOW'} the 0.9 target`);
}

await server.close();
await lambda.close();
console.log('');
await benchTwoInstances(modelsDir);
await rm(workDir, { recursive: true, force: true });
process.exit(0);
