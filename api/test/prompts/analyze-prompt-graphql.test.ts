import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, countPromptTokens } from '@easel/schema';
import { codes, useTestServer } from '../support/server.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const SD15_TOKENIZER = path.resolve(repoRoot, '../shared/fixtures/sd15-pastel-mix/tokenizer');

const server = useTestServer();
let key: string;
beforeAll(async () => {
  ({ key } = await server().createUser('prompter'));
});

const ANALYZE = `query Analyze($modelId: ID!, $prompt: String!, $negativePrompt: String) {
  analyzePrompt(modelId: $modelId, prompt: $prompt, negativePrompt: $negativePrompt) {
    prompt { segments { text weight } tokenCount chunks tokenLimit tokenCountSource warnings { code message start end suggestion replacement } }
    negativePrompt { tokenCount warnings { code start end } }
    enhancedPrompt
    enhancedNegativePrompt
  }
}`;

const analyze = (variables: Record<string, unknown>, as = key) => server().graphql(ANALYZE, { key: as, variables });

describe('analyzePrompt over HTTP', () => {
  it('answers with the segments, the count, the warnings and the enhanced prompts', async () => {
    const response = await analyze({ modelId: 'illustrious-xl-v0.1', prompt: 'score_9, 1girl, (smile:1.2)', negativePrompt: 'lowres' });
    expect(response.errors).toBeUndefined();
    const analysis = response.data?.analyzePrompt;
    expect(analysis.prompt.segments).toEqual([
      { text: 'score_9, 1girl, ', weight: 1 },
      { text: 'smile', weight: 1.2 },
    ]);
    expect(analysis.prompt).toMatchObject({ chunks: 1, tokenLimit: 75, tokenCountSource: 'ESTIMATE' });
    expect(analysis.prompt.tokenCount).toBeGreaterThan(5);
    expect(analysis.prompt.warnings).toEqual([
      {
        code: 'SCORE_TAG_NOT_PONY',
        message: expect.stringMatching(/Pony score tag/),
        start: 0,
        end: 9,
        suggestion: expect.stringMatching(/enhancer removes it/),
        replacement: '',
      },
    ]);
    expect(analysis.negativePrompt).toEqual({ tokenCount: expect.any(Number), warnings: [] });
    expect(analysis.enhancedPrompt).toBe('masterpiece, best quality, amazing quality, very aesthetic, absurdres, 1girl, (smile:1.2)');
    expect(analysis.enhancedNegativePrompt).toMatch(/^worst quality, .*, lowres$/);
  });

  it("counts with the model's own tokenizer once the model is installed", async () => {
    const folder = path.join(server().modelsDir, 'pastel-mix');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'model_index.json'), '{}');
    await cp(SD15_TOKENIZER, path.join(folder, 'tokenizer'), { recursive: true });

    const prompt = 'masterpiece, best quality, 1girl, pastel colors, (sparkling eyes:1.2), BREAK cherry blossoms';
    const response = await analyze({ modelId: 'pastel-mix', prompt });
    const real = countPromptTokens(prompt, await ClipTokenizer.fromDirectory(SD15_TOKENIZER));
    expect(response.data?.analyzePrompt.prompt).toMatchObject({
      tokenCountSource: 'TOKENIZER',
      tokenCount: real.tokenCount,
      chunks: 2,
      tokenLimit: 150,
    });
  });

  it("follows an admin's edit of the family preset", async () => {
    const edit = await server().graphql('mutation { updateFamilyPreset(family: PONY, input: { qualityTags: ["score_9", "score_8_up", "source_anime"] }) { qualityTags } }', {
      key: server().admin.key,
    });
    expect(edit.errors).toBeUndefined();
    const response = await analyze({ modelId: 'pony-diffusion-v6-xl', prompt: 'score_9, 1girl' });
    expect(response.data?.analyzePrompt.enhancedPrompt).toBe('score_8_up, source_anime, score_9, 1girl');
  });

  it('needs an API key', async () => {
    const response = await server().graphql(ANALYZE, { variables: { modelId: 'sdxl-base-1.0', prompt: 'a cat' } });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('answers NOT_FOUND for a model not in the catalog', async () => {
    const response = await analyze({ modelId: 'no-such-model', prompt: 'a cat' });
    expect(codes(response)).toEqual(['NOT_FOUND']);
    expect(response.errors?.[0].message).toMatch(/no-such-model/);
  });

  it('answers BAD_USER_INPUT for a prompt over 10,000 characters', async () => {
    const tooLong = await analyze({ modelId: 'sdxl-base-1.0', prompt: 'a'.repeat(10_001) });
    expect(codes(tooLong)).toEqual(['BAD_USER_INPUT']);
    expect(tooLong.errors?.[0].message).toMatch(/prompt is 10001 characters long; the limit is 10000/);
    const negativeTooLong = await analyze({ modelId: 'sdxl-base-1.0', prompt: 'a cat', negativePrompt: 'b'.repeat(10_001) });
    expect(codes(negativeTooLong)).toEqual(['BAD_USER_INPUT']);
  });
});
