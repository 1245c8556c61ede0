import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, countPromptTokens } from '@easel/schema';
import { ESTIMATED_COUNTER, tokenCounterFor } from '../../src/prompts/token-counter.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = path.resolve(repoRoot, '../shared/fixtures');
const SD15_TOKENIZER = path.join(fixtures, 'sd15-pastel-mix/tokenizer');

/** Prompts of every kind people write: tags, sentences, weights, long ones. */
const TYPICAL_PROMPTS = [
  'masterpiece, best quality, amazing quality, very aesthetic, absurdres, 1girl, solo, long hair, looking at viewer, smile, blue eyes, school uniform, cherry blossoms, outdoors',
  'score_9, score_8_up, score_7_up, source_anime, rating_safe, 1girl, (silver hair:1.2), twintails, detached sleeves, holding umbrella, rain, night, city lights, bokeh',
  'A photograph of an old lighthouse on a rocky cliff during a storm, waves crashing against the rocks, dramatic lighting, moody atmosphere, highly detailed, 35mm film',
  'lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry',
  'a cozy cabin in snowy woods at dusk, warm light glowing from the windows, smoke rising from the chimney, watercolor painting, soft pastel colours, children\'s book illustration',
  'portrait of an elderly fisherman with a weathered face, (intricate wrinkles:1.3), [freckles], looking into the distance, golden hour, shallow depth of field, photorealistic, 8k uhd',
  Array.from({ length: 6 }, () => 'cyberpunk street market, neon signs, crowded, steam, reflections on wet asphalt, hyperdetailed').join(', '),
];

describe('token counts', () => {
  it("estimates typical prompts within 15% of the real CLIP tokenizer's count", async () => {
    const tokenizer = await ClipTokenizer.fromDirectory(SD15_TOKENIZER);
    for (const prompt of TYPICAL_PROMPTS) {
      const real = countPromptTokens(prompt, tokenizer).tokenCount;
      const estimated = ESTIMATED_COUNTER.count(prompt).tokenCount;
      expect(Math.abs(estimated - real) / real, `${estimated} estimated, ${real} real: ${prompt}`).toBeLessThanOrEqual(0.15);
    }
  });

  it('chunks an estimate as it chunks real tokens: 75 a chunk, BREAK starting a new one', () => {
    expect(ESTIMATED_COUNTER.count('')).toEqual({ tokenCount: 0, chunkCount: 1, tokenLimit: 75 });
    expect(ESTIMATED_COUNTER.count('cat BREAK dog')).toEqual({ tokenCount: 76, chunkCount: 2, tokenLimit: 150 });
    const long = ESTIMATED_COUNTER.count(TYPICAL_PROMPTS.at(-1)!);
    expect(long.chunkCount).toBe(Math.ceil(long.tokenCount / 75));
  });

  describe('tokenCounterFor', () => {
    let modelsDir: string;
    const logger = pino({ level: 'silent' });

    beforeAll(async () => {
      modelsDir = await mkdtemp(path.join(os.tmpdir(), 'easel-prompt-models-'));
      await cp(SD15_TOKENIZER, path.join(modelsDir, 'anime-model/tokenizer'), { recursive: true });
      await mkdir(path.join(modelsDir, 'broken-model/tokenizer'), { recursive: true });
      await writeFile(path.join(modelsDir, 'broken-model/tokenizer/vocab.json'), 'not json');
    });
    afterAll(() => rm(modelsDir, { recursive: true, force: true }));

    it("counts with the model's own tokenizer once it is installed", async () => {
      const counter = await tokenCounterFor(path.join(modelsDir, 'anime-model'), true, logger);
      expect(counter.source).toBe('TOKENIZER');
      const tokenizer = await ClipTokenizer.fromDirectory(SD15_TOKENIZER);
      expect(counter.count(TYPICAL_PROMPTS[0])).toEqual(countPromptTokens(TYPICAL_PROMPTS[0], tokenizer));
    });

    it('estimates for a model that is not installed, or whose tokenizer cannot be read', async () => {
      expect((await tokenCounterFor(path.join(modelsDir, 'anime-model'), false, logger)).source).toBe('ESTIMATE');
      expect((await tokenCounterFor(path.join(modelsDir, 'broken-model'), true, logger)).source).toBe('ESTIMATE');
    });
  });
});
