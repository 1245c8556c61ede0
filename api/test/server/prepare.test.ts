import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalInvoke } from '@easel/gpu-runtime/local-invoke';
import type { Services } from '../../src/services.js';
import { chargedGeneration } from '../support/generation-fixtures.js';
import { useTestServer } from '../support/server.js';

/*
 * startServer's `prepare` is where main installs and registers the models: whatever it does must
 * be done before the dispatcher sends a single job, a job the last run left queued included.
 */

/** The GPU function, reached through the real Lambda client: it notes whether prepare had finished. */
const sent: { jobId: string; prepared: boolean }[] = [];
let prepared = false;
const lambda = await startLocalInvoke({
  functions: { 'easel-gpu': async (job) => void sent.push({ jobId: (job as { jobId: string }).jobId, prepared }) },
  maxConcurrency: 10,
});
afterAll(() => lambda.close());

let leftQueued: string | undefined;
let listeningDuringPrepare: boolean | undefined;

async function prepare(services: Services): Promise<void> {
  // A job queued before a restart, for a model whose files this step would write.
  const job = await chargedGeneration(services.tokens, { userId: 'user-ada', plan: 'FREE' });
  leftQueued = String(job._id);
  listeningDuringPrepare = services.publicUrl !== '';
  await sleep(100);
  prepared = true;
}

const server = useTestServer({ LAMBDA_ENDPOINT: lambda.url, GPU_CONCURRENCY: '1' }, { prepare });

describe('startServer with prepare', () => {
  it('prepares before it listens and before the dispatcher sends the first job', async () => {
    expect(server().url).toMatch(/^http:/);
    expect(listeningDuringPrepare).toBe(false);
    await expect.poll(() => sent).toEqual([{ jobId: leftQueued, prepared: true }]);
  });
});
