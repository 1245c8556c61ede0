import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

/** Debian's chromium; .ci/run installs it when missing. */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const server = useTestServer();
let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`This test drives Debian's chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (.ci/run does).`);
  }
  profile = await mkdtemp(path.join(os.tmpdir(), 'easel-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await rm(profile, { recursive: true, force: true });
});

/** Opens GraphiQL with the admin key in its Headers tab and `query` in its editor, and runs it. */
async function runInGraphiQL(query: string) {
  const page = await browser.newPage();
  const foreign: string[] = [];
  page.on('request', (request) => {
    if (!/^(blob|data):/.test(request.url()) && !request.url().startsWith(server().url)) foreign.push(request.url());
  });
  // GraphiQL keeps its tabs in localStorage: start clean, with what a person would have typed.
  await page.addInitScript(
    ({ key, query }) => {
      // Runs in the page; the tests compile without the DOM library.
      const { localStorage } = globalThis as unknown as { localStorage: { clear(): void; setItem(key: string, value: string): void } };
      localStorage.clear();
      localStorage.setItem('graphiql:headers', JSON.stringify({ Authorization: `Bearer ${key}` }));
      localStorage.setItem('graphiql:query', query);
    },
    { key: server().admin.key, query },
  );
  await page.goto(`${server().url}/graphql`);
  // The editor lays text out with non-breaking spaces; compare words, not whitespace.
  const result = async () => (await page.locator('.result-window').innerText()).replace(/\s+/g, ' ').trim();
  // On a loaded machine the button can be there before GraphiQL is ready to run anything: a
  // click then does nothing, so click again until something runs.
  await expect
    .poll(
      async () => {
        await page.locator('.graphiql-execute-button').click({ timeout: 20_000 });
        return expect.poll(result, { timeout: 5_000 }).not.toBe('').then(() => true, () => false);
      },
      { timeout: 40_000, interval: 0 },
    )
    .toBe(true);
  return { page, result, foreign };
}

describe('GraphiQL in a browser', { timeout: 90_000 }, () => {
  it('renders from this server alone and runs a query with the key from its Headers tab', async () => {
    const { page, result, foreign } = await runInGraphiQL('{ me { name role } models(family: PONY) { slug } }');
    await expect.poll(result, { timeout: 20_000 }).toContain('"me": { "name": "admin", "role": "ADMIN" }');
    expect(await result()).toContain('"models": [ { "slug": "pony-diffusion-v6-xl" } ]');
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('runs a subscription over the WebSocket', async () => {
    const { page, result, foreign } = await runInGraphiQL('subscription { heartbeat(intervalMs: 100, count: 3) { beat } }');
    await expect.poll(result, { timeout: 20_000 }).toContain('"heartbeat": { "beat": 3 }');
    expect(foreign).toEqual([]);
    await page.close();
  });
});
