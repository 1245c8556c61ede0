import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '@easel/gpu-runtime/png';
import { formatInfotext, HiresFix } from '@easel/schema';
import { codes, useTestServer } from '../support/server.js';

const server = useTestServer({ GPU_CONCURRENCY: '0' });
let key: string;
let stranger: string;
beforeAll(async () => {
  ({ key } = await server().createUser('paster'));
  ({ key: stranger } = await server().createUser('stranger'));
});

const FIELDS = `prompt negativePrompt width height steps cfgScale sampler scheduleType clipSkip seed denoiseStrength padConds modelName
  hires { scale resizeWidth resizeHeight upscaler steps prompt negativePrompt sampler scheduleType }
  unmapped { key value reason }`;
const PARSE = `query Parse($text: String!) { parseParameters(text: $text) { ${FIELDS} } }`;
const PNG_INFO = `query Info($uploadId: ID!) { pngInfo(uploadId: $uploadId) { ${FIELDS} } }`;

// An A1111 1.10 infotext with hires fix (its create_infotext field names and order).
const A1111 =
  '1girl, (smile:1.2)\nNegative prompt: lowres, bad hands\nSteps: 28, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 6.5, Seed: 42, Size: 832x1216, Model hash: 67ab2fd8ec, Model: ponyDiffusionV6XL, Denoising strength: 0.45, Clip skip: 2, Hires upscale: 1.5, Hires steps: 12, Hires upscaler: Latent (bicubic), Version: v1.10.1';

describe('parseParameters', () => {
  it("reads an A1111 infotext into generateImage's input, naming what it could not map", async () => {
    const response = await server().graphql(PARSE, { key, variables: { text: A1111 } });
    expect(response.errors).toBeUndefined();
    expect(response.data?.parseParameters).toEqual({
      prompt: '1girl, (smile:1.2)',
      negativePrompt: 'lowres, bad hands',
      width: 832,
      height: 1216,
      steps: 28,
      cfgScale: 6.5,
      sampler: 'DPM++ 2M SDE',
      scheduleType: 'Karras',
      clipSkip: 2,
      seed: 42,
      denoiseStrength: 0.45,
      padConds: null,
      modelName: 'ponyDiffusionV6XL',
      hires: { scale: 1.5, resizeWidth: null, resizeHeight: null, upscaler: 'Latent (bicubic)', steps: 12, prompt: null, negativePrompt: null, sampler: null, scheduleType: null },
      unmapped: [
        { key: 'Model hash', value: '67ab2fd8ec', reason: expect.stringMatching(/catalog id/) },
        { key: 'Version', value: 'v1.10.1', reason: expect.any(String) },
      ],
    });
  });

  it('needs an API key and refuses an oversize text', async () => {
    expect(codes(await server().graphql(PARSE, { variables: { text: A1111 } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await server().graphql(PARSE, { key, variables: { text: 'x'.repeat(30_001) } }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('pngInfo', () => {
  const upload = async (bytes: Buffer, type: string, as = key) => {
    const response = await fetch(`${server().url}/uploads`, { method: 'POST', body: bytes, headers: { authorization: `Bearer ${as}`, 'content-type': type } });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const pixels = Buffer.alloc(64 * 64 * 3, 128);

  it('reads the infotext Easel writes back into the same settings', async () => {
    const infotext = formatInfotext({
      prompt: 'a lighthouse, [storm:calm:0.5]',
      negativePrompt: 'blurry',
      steps: 20,
      sampler: 'euler_a',
      schedule: 'normal',
      cfgScale: 7,
      seed: 99,
      width: 512,
      height: 768,
      clipSkip: 1,
      model: 'Tiny SD 1.5',
      denoiseStrength: 0.5,
      padConds: true,
      hires: HiresFix.parse({ resizeWidth: 1024, upscaler: 'Lanczos', prompt: 'detailed, sharp', sampler: 'dpmpp_2m', schedule: 'karras' }),
    });
    const id = await upload(await encodePng(pixels, 64, 64, { parameters: infotext }), 'image/png');
    const response = await server().graphql(PNG_INFO, { key, variables: { uploadId: id } });
    expect(response.errors).toBeUndefined();
    expect(response.data?.pngInfo).toMatchObject({
      prompt: 'a lighthouse, [storm:calm:0.5]',
      negativePrompt: 'blurry',
      sampler: 'Euler a',
      scheduleType: 'Normal',
      seed: 99,
      denoiseStrength: 0.5,
      padConds: true,
      modelName: 'Tiny SD 1.5',
      hires: { resizeWidth: 1024, resizeHeight: 0, upscaler: 'Lanczos', prompt: 'detailed, sharp', sampler: 'DPM++ 2M', scheduleType: 'Karras' },
      unmapped: [],
    });

    // Someone else's upload is not there for them.
    expect(codes(await server().graphql(PNG_INFO, { key: stranger, variables: { uploadId: id } }))).toEqual(['NOT_FOUND']);
  });

  it('says why when the upload has no parameters or is no PNG', async () => {
    const plain = await upload(await encodePng(pixels, 64, 64, {}), 'image/png');
    const none = await server().graphql(PNG_INFO, { key, variables: { uploadId: plain } });
    expect(codes(none)).toEqual(['BAD_USER_INPUT']);
    expect(none.errors?.[0].message).toMatch(/no A1111 parameters/);

    const jpeg = await upload(await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer(), 'image/jpeg');
    const notPng = await server().graphql(PNG_INFO, { key, variables: { uploadId: jpeg } });
    expect(codes(notPng)).toEqual(['BAD_USER_INPUT']);
    expect(notPng.errors?.[0].message).toMatch(/only PNGs/);
  });
});
