import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParameters, readPngText } from '@easel/gpu-runtime/pipeline';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { useTestServer } from '../support/server.js';

/*
 * Easel Studio in headless Chromium, on the tiny demo models, against the real server: the page
 * as `npm start` serves it at `/`, under its strict CSP (script-src and style-src 'self': a
 * refused inline script or style shows as a console error), every request checked to stay on this server.
 */

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where CI keeps test output; screenshots of the main states go here for people to look at. */
const SCREENSHOTS = path.resolve(process.env.TEST_OUTPUT_DIR ?? 'test-output', 'studio');

/** A few tokens a day, so that "tokens short" is reached without generating twenty images. */
const DAILY_TOKENS = 4;

const TINY_MODELS = sharedTinyModelsDir();
beforeAll(() => makeTinyModels(TINY_MODELS));
const server = useTestServer({ MODELS_DIR: TINY_MODELS, FREE_DAILY_TOKENS: String(DAILY_TOKENS) });

let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`This test drives Debian's chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (.ci/run does).`);
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  profile = await mkdtemp(path.join(os.tmpdir(), 'easel-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server().url });
});

afterAll(async () => {
  await browser?.close();
  await rm(profile, { recursive: true, force: true });
});

interface Watched {
  page: Page;
  /** Requests and WebSockets that left this server. */
  foreign: string[];
  /** What the browser refused under the CSP, or other page errors. */
  problems: string[];
}

async function openPage(viewport?: { width: number; height: number }): Promise<Watched> {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const foreign: string[] = [];
  const problems: string[] = [];
  const origin = server().url;
  page.on('request', (request) => {
    if (!/^data:/.test(request.url()) && !request.url().startsWith(`${origin}/`)) foreign.push(request.url());
  });
  page.on('websocket', (socket) => {
    if (process.env.STUDIO_DEBUG) socket.on('framereceived', (frame) => console.log('ws <', String(frame.payload).slice(0, 300)));
    if (!socket.url().startsWith(`${origin.replace(/^http/, 'ws')}/`)) foreign.push(socket.url());
  });
  page.on('console', (message) => {
    if (process.env.STUDIO_DEBUG) console.log('console', message.type(), message.text());
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { page, foreign, problems };
}

/** How wide the page's content is: wider than the viewport means sideways scrolling. */
const contentWidth = (page: Page) => page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

async function balance(page: Page): Promise<number> {
  return Number(await page.getByTestId('balance').innerText());
}

async function signIn(page: Page, key: string) {
  const response = await page.goto(`${server().url}/#key=${encodeURIComponent(key)}`);
  expect(response?.headers()['content-security-policy']).toContain("script-src 'self'; style-src 'self'");
  await expect.poll(() => page.getByRole('heading', { name: 'Easel Studio' }).isVisible(), { timeout: 20_000 }).toBe(true);
  await expect.poll(() => page.getByTestId('balance').isVisible(), { timeout: 20_000 }).toBe(true);
}

async function pickTinyModel(page: Page) {
  await page.getByRole('tab', { name: 'Easy' }).click();
  await page.getByRole('radio', { name: /Tiny SD 1\.5/ }).check();
}

async function setNumber(page: Page, label: string, value: number) {
  await page.getByRole('spinbutton', { name: label, exact: true }).fill(String(value));
}

describe('Easel Studio in a browser', { timeout: 120_000 }, () => {
  it('signs in from the link, lints and fixes the prompt, generates with previews, and serves the result from the gallery', async () => {
    const { page, foreign, problems } = await openPage();
    const { key } = await server().createUser('studio-painter');
    await signIn(page, key);
    // The key left the address bar at once, and is kept for the next visit.
    expect(page.url()).toBe(`${server().url}/`);
    expect(await balance(page)).toBe(DAILY_TOKENS);
    await pickTinyModel(page);
    await shot(page, '1-signed-in');

    const prompt = page.getByRole('textbox', { name: 'Prompt', exact: true });
    await prompt.fill('a lighthouse at dusk, (oil painting:2.5)');
    const fix = page.getByRole('button', { name: /^Fix:/ });
    await expect.poll(() => fix.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('.mirror mark').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.counter').first().innerText()).toMatch(/^\d+\/75$/);
    await shot(page, '2-lint-warning');
    await fix.first().click();
    const fixed = await prompt.inputValue();
    expect(fixed).not.toBe('a lighthouse at dusk, (oil painting:2.5)');
    await expect.poll(() => page.getByRole('button', { name: /^Fix:/ }).count(), { timeout: 15_000 }).toBe(0);
    // The enhancer shows what the model will receive: the user's text, kept.
    await expect.poll(() => page.getByTestId('enhanced-prompt').innerText(), { timeout: 15_000 }).toContain(fixed);
    const enhanced = await page.getByTestId('enhanced-prompt').innerText();
    expect(enhanced).not.toBe(fixed);

    // Long enough on the tiny model for its step previews to be seen.
    await page.getByText('Advanced settings').click();
    await setNumber(page, 'Steps', 60);
    await page.getByLabel('Size', { exact: true }).selectOption('256x256');
    await page.getByRole('radio', { name: 'Fixed' }).check();
    await page.getByRole('spinbutton', { name: 'Seed value' }).fill('1234');
    await page.getByRole('textbox', { name: 'Negative prompt' }).fill('watercolor');
    await shot(page, '3-advanced-settings');

    const preview = page.getByRole('img', { name: /^Preview at step/ });
    const sawPreview = preview.waitFor({ state: 'attached', timeout: 30_000 }).then(() => true);
    await page.getByRole('button', { name: 'Generate · 1 token' }).click();
    expect(await sawPreview).toBe(true);
    await shot(page, '4-generating');
    const finalImage = page.locator('.current').getByRole('img', { name: /^Generated image/ });
    await finalImage.waitFor({ timeout: 60_000 });
    await expect.poll(() => finalImage.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(256);
    await expect.poll(() => balance(page)).toBe(DAILY_TOKENS - 1);
    await shot(page, '5-done');

    // The gallery has it; its details reuse, download and copy it.
    await page.locator('.gallery').getByRole('button', { name: /^Details: / }).first().click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.innerText()).toContain('1234');
    await shot(page, '6-detail');

    const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('link', { name: /^Download PNG/ }).click()]);
    const png = new Uint8Array(await readFile((await download.path())!));
    expect(readParameters(png)).toMatchObject({ prompt: enhanced, negativePrompt: expect.stringContaining('watercolor'), steps: 60, seed: 1234, width: 256, height: 256 });

    await dialog.getByRole('button', { name: 'Copy parameters' }).click();
    await expect.poll(() => dialog.getByRole('status').innerText()).toBe('Parameters copied.');
    expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(readPngText(png).parameters);

    // Reuse: the form takes the generation's settings back.
    await prompt.evaluate((element) => ((element as unknown as { value: string }).value = ''));
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('something else');
    await setNumber(page, 'Steps', 20);
    await dialog.getByRole('button', { name: 'Use these settings' }).click();
    expect(await prompt.inputValue()).toBe(fixed);
    expect(await page.getByRole('spinbutton', { name: 'Steps', exact: true }).inputValue()).toBe('60');
    expect(await page.getByRole('spinbutton', { name: 'Seed value' }).inputValue()).toBe('1234');

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('cancels a generation and refunds it; when tokens are short the button says why and sends nothing', async () => {
    const { page, foreign, problems } = await openPage();
    const { key } = await server().createUser('studio-canceller');
    await signIn(page, key);
    await pickTinyModel(page);
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('a long exposure of a harbour at night');
    await page.getByText('Advanced settings').click();
    await setNumber(page, 'Steps', 150);
    await page.getByLabel('Size', { exact: true }).selectOption('256x256');
    await setNumber(page, 'Batch size', DAILY_TOKENS);

    await page.getByRole('button', { name: `Generate · ${DAILY_TOKENS} tokens` }).click();
    await expect.poll(() => balance(page), { timeout: 15_000 }).toBe(0);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.locator('.current .status').innerText(), { timeout: 30_000 }).toBe(`Cancelled: ${DAILY_TOKENS} tokens refunded`);
    await expect.poll(() => balance(page), { timeout: 15_000 }).toBe(DAILY_TOKENS);
    await shot(page, '7-cancelled');

    // One image more than the tokens left (one spent through the API): the button says so, and nothing goes out.
    const spend = await server().graphql(
      'mutation { generateImage(input: { modelId: "tiny-sd15", prompt: "one", enhancePrompt: false, width: 64, height: 64, steps: 2 }) { id } }',
      { key },
    );
    expect(spend.errors).toBeUndefined();
    await page.reload();
    await expect.poll(() => balance(page), { timeout: 20_000 }).toBe(DAILY_TOKENS - 1);
    const generate = page.getByRole('button', { name: `Generate · ${DAILY_TOKENS} tokens` });
    await expect.poll(() => generate.isDisabled()).toBe(true);
    let sent = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && /generateImage/.test(request.postData() ?? '')) sent++;
    });
    const reason = await page.locator('#generate-reason').innerText();
    expect(reason).toContain(`this needs ${DAILY_TOKENS} tokens and you have ${DAILY_TOKENS - 1}`);
    await generate.click({ force: true });
    await page.keyboard.press('Enter');
    await shot(page, '8-tokens-short');
    expect(sent).toBe(0);
    expect(await balance(page)).toBe(DAILY_TOKENS - 1);

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('hides the negative prompt for a Flux model and sends none, though the form still holds one', async () => {
    const { page, foreign, problems } = await openPage();
    const { key } = await server().createUser('studio-flux');
    await signIn(page, key);
    await pickTinyModel(page);
    await page.getByText('Advanced settings').click();
    await page.getByRole('textbox', { name: 'Negative prompt' }).fill('watercolor');

    await page.getByRole('tab', { name: 'Advanced' }).click();
    await page.getByRole('radio', { name: /Tiny FLUX\.1 \[dev\]/ }).check();
    await expect.poll(() => page.getByTestId('no-negative-prompt').isVisible()).toBe(true);
    expect(await page.getByRole('textbox', { name: 'Negative prompt' }).count()).toBe(0);
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('a lighthouse on a cliff in a storm');
    await setNumber(page, 'Steps', 2);
    await setNumber(page, 'Batch size', 1); // the form keeps what the tests before this one set
    const sent = page.waitForRequest((request) => request.method() === 'POST' && /generateImage/.test(request.postData() ?? ''));
    await page.getByRole('button', { name: 'Generate · 1 token' }).click();
    const input = (JSON.parse((await sent).postData()!) as { variables: { input: { modelId: string; negativePrompt: string | null } } }).variables.input;
    expect(input).toMatchObject({ modelId: expect.any(String), negativePrompt: null });
    await expect.poll(() => page.locator('.current .status').innerText(), { timeout: 60_000 }).toMatch(/^Done/);
    await expect.poll(() => balance(page)).toBe(DAILY_TOKENS - 1);
    await shot(page, '9-flux');

    // Back on an SD model, the negative prompt the form kept is there again.
    await page.getByRole('tab', { name: 'Easy' }).click();
    await page.getByRole('radio', { name: /Tiny SD 1\.5/ }).check();
    expect(await page.getByRole('textbox', { name: 'Negative prompt' }).inputValue()).toBe('watercolor');

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('holds its layout on a 390-pixel-wide phone screen and works from the keyboard', async () => {
    const { page, foreign, problems } = await openPage({ width: 390, height: 844 });
    const { key } = await server().createUser('studio-phone');
    await signIn(page, key);
    await pickTinyModel(page);
    await page.getByText('Advanced settings').click();
    // Nothing wider than the screen: no sideways scrolling.
    expect(await contentWidth(page)).toBeLessThanOrEqual(390);
    // Each control has an accessible name.
    const unnamed = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(selector: string): ArrayLike<{ outerHTML: string; id: string; labels?: ArrayLike<unknown> | null; getAttribute(name: string): string | null; textContent: string | null; closest(selector: string): unknown }> } }).document;
      return Array.from(doc.querySelectorAll('button, input, select, textarea, a[href]'))
        .filter((element) => !(element.labels?.length || element.getAttribute('aria-label') || element.getAttribute('aria-labelledby') || element.textContent?.trim() || element.closest('label')))
        .map((element) => element.outerHTML.slice(0, 80));
    });
    expect(unnamed).toEqual([]);

    // From the keyboard: the model tiers are tabs, moved between with the arrow keys.
    const selectedTab = () => page.getByRole('tab', { selected: true }).textContent();
    const focusedTab = () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent);
    await page.getByRole('tab', { name: 'Easy' }).focus();
    await page.keyboard.press('ArrowRight');
    expect([await selectedTab(), await focusedTab()]).toEqual(['Advanced', 'Advanced']);
    expect(await page.getByRole('tab', { name: 'Easy' }).getAttribute('tabindex')).toBe('-1');
    await page.keyboard.press('ArrowLeft');
    expect([await selectedTab(), await focusedTab()]).toEqual(['Easy', 'Easy']);

    // Type a prompt.
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).focus();
    await page.keyboard.type('a small boat');

    // A field the API refuses: its message shows beside that field.
    await setNumber(page, 'Steps', 500);
    await page.getByRole('button', { name: /^Generate/ }).click();
    await expect.poll(() => page.locator('#setting-steps-error').textContent(), { timeout: 15_000 }).toMatch(/steps/i);
    await setNumber(page, 'Steps', 8);

    // A base image taller than the square size chosen: previewed, with a warning and the denoise strength.
    const tall = await sharp({ create: { width: 64, height: 128, channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toBuffer();
    await page.getByLabel('Choose image').setInputFiles({ name: 'tall.png', mimeType: 'image/png', buffer: tall });
    await page.getByRole('img', { name: /^Base image tall\.png, 64×128/ }).waitFor({ timeout: 15_000 });
    expect(await page.locator('.base-image').innerText()).toMatch(/aspect ratio \(64×128\) differs from the size chosen \(\d+×\d+\)/);
    await page.getByRole('slider', { name: /Denoise strength/ }).fill('0.6');

    // Generate from the keyboard.
    await page.getByRole('button', { name: /^Generate/ }).focus();
    await page.keyboard.press('Enter');
    await page.locator('.current').getByRole('img', { name: /^Generated image/ }).first().waitFor({ timeout: 60_000 });
    await page.locator('.current').getByRole('button', { name: /^Open details/ }).first().click();
    expect(await page.getByRole('dialog').innerText()).toMatch(/Denoise strength\s+0\.6/);
    await shot(page, '9-phone-detail');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

    // Reusing an img2img generation's settings brings its base image back (from the API, by signed link).
    await page.getByRole('button', { name: 'Remove base image' }).click();
    await page.getByRole('img', { name: /^Base image/ }).waitFor({ state: 'detached' });
    await page.locator('.current').getByRole('button', { name: /^Open details/ }).first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Use these settings' }).click();
    const restored = page.getByRole('img', { name: /^Base image from the earlier generation, 64×128/ });
    await restored.waitFor({ timeout: 15_000 });
    await expect.poll(() => restored.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 15_000 }).toBe(64);
    expect(await page.getByRole('slider', { name: /Denoise strength/ }).inputValue()).toBe('0.6');
    expect(await contentWidth(page)).toBeLessThanOrEqual(390);
    await shot(page, '10-phone');

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('loads the gallery a page at a time as it scrolls, newest first', async () => {
    const { page, foreign, problems } = await openPage({ width: 390, height: 844 });
    const { key } = await server().createUser('studio-collector', { plan: 'PLUS' });
    // One more than the page loads at once (12): the last one comes with the second page.
    for (let i = 1; i <= 13; i++) {
      const made = await server().graphql(
        `mutation { generateImage(input: { modelId: "tiny-sd15", prompt: "picture ${i}", enhancePrompt: false, width: 64, height: 64, steps: 1 }) { id } }`,
        { key },
      );
      expect(made.errors).toBeUndefined();
    }
    await signIn(page, key);
    const items = page.locator('.gallery li');
    await expect.poll(() => items.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(12);
    expect(await items.first().getByRole('button').getAttribute('aria-label')).toMatch(/^Details: picture 13 /);
    await items.last().scrollIntoViewIfNeeded();
    await page.mouse.wheel(0, 10_000);
    await expect.poll(() => items.count(), { timeout: 20_000 }).toBe(13);
    expect(await items.last().getByRole('button').getAttribute('aria-label')).toMatch(/^Details: picture 1 /);

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
