import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { GenerationModel } from '../../src/generations/generation.js';
import { storeGeneratedImage } from '../../src/generations/images/image-store.js';
import { MAX_UPLOAD_BYTES } from '../../src/http/uploads.js';
import { codes, useTestServer } from '../support/server.js';
import { balanceOf, generate, installModel } from './support.js';

const server = useTestServer({ GPU_CONCURRENCY: '0' });

beforeAll(() => installModel(server(), 'tiny-sd15'));

const image = (format: 'png' | 'jpeg' | 'webp' | 'gif', width = 96, height = 64) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 20 } } })
    .toFormat(format)
    .toBuffer();

const post = (body: RequestInit['body'], headers: Record<string, string>) => fetch(`${server().url}/uploads`, { method: 'POST', body, headers });

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('POST /uploads', () => {
  it('stores an image sent as the raw body and answers its id, size and format', async () => {
    const { key } = await server().createUser('painter');
    const png = await image('png');
    const response = await post(png, { ...bearer(key), 'content-type': 'image/png' });
    expect(response.status).toBe(201);
    const answer = (await response.json()) as { id: string; width: number; height: number; format: string; bytes: number };
    expect(answer).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), width: 96, height: 64, format: 'png', bytes: png.length });
    expect(response.headers.get('location')).toBe(`/uploads/${answer.id}`);

    const download = await fetch(`${server().url}/uploads/${answer.id}`, { headers: bearer(key) });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
  });

  it('takes a multipart form with the image in the field "file"', async () => {
    const { key } = await server().createUser('former');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await image('jpeg', 64, 128))], { type: 'image/jpeg' }), 'base.jpg');
    const response = await post(form, bearer(key));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ width: 64, height: 128, format: 'jpeg' });

    const wrongField = new FormData();
    wrongField.append('picture', new Blob([new Uint8Array(await image('png'))], { type: 'image/png' }));
    const refused = await post(wrongField, bearer(key));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', message: expect.stringContaining('"file"') } });
  });

  it('refuses an image over the size limit with 413, raw or multipart', async () => {
    const { key } = await server().createUser('hoarder');
    const tooBig = randomBytes(MAX_UPLOAD_BYTES + 1);
    const raw = await post(tooBig, { ...bearer(key), 'content-type': 'image/png' });
    expect(raw.status).toBe(413);
    expect(await raw.json()).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('10 MB') } });

    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(tooBig)], { type: 'image/png' }), 'big.png');
    const multipart = await post(form, bearer(key));
    expect(multipart.status).toBe(413);
    expect(((await multipart.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses bytes that are not a whole PNG, JPEG or WebP with 400 and says why', async () => {
    const { key } = await server().createUser('forger');
    const png = await image('png', 256, 256);
    const cases: [Buffer, RegExp][] = [
      [randomBytes(2_000), /not a readable PNG, JPEG or WebP/],
      [png.subarray(0, Math.floor(png.length / 2)), /not a readable PNG, JPEG or WebP/],
      [await image('gif'), /gif image cannot be a base image/],
    ];
    for (const [bytes, message] of cases) {
      const response = await post(bytes, { ...bearer(key), 'content-type': 'image/png' });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('BAD_USER_INPUT');
      expect(body.error.message).toMatch(message);
    }
    const empty = await post(Buffer.alloc(0), { ...bearer(key), 'content-type': 'image/png' });
    expect(empty.status).toBe(400);
    const text = await post('hello', { ...bearer(key), 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('needs a valid API key', async () => {
    const png = await image('png');
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer easel_' + 'x'.repeat(43) }, { authorization: 'Basic abc' }];
    for (const headers of attempts) {
      const response = await post(png, { ...headers, 'content-type': 'image/png' });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    }
  });

  it("shows an upload to its owner only, and lets only the owner generate from it", async () => {
    const owner = await server().createUser('uploader');
    const stranger = await server().createUser('borrower');
    const uploaded = (await (await post(await image('webp', 128, 128), { ...bearer(owner.key), 'content-type': 'image/webp' })).json()) as { id: string };

    expect((await fetch(`${server().url}/uploads/${uploaded.id}`, { headers: bearer(stranger.key) })).status).toBe(404);
    expect((await fetch(`${server().url}/uploads/${uploaded.id}`)).status).toBe(401);

    const img2img = await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x', baseImageId: uploaded.id, denoiseStrength: 0.4 });
    expect(img2img.errors).toBeUndefined();
    expect(img2img.data!.generateImage).toMatchObject({ baseImageId: uploaded.id, settings: { denoiseStrength: 0.4 } });
    const defaulted = await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x', baseImageId: uploaded.id });
    expect(defaulted.data!.generateImage.settings.denoiseStrength).toBe(0.75);

    for (const baseImageId of [uploaded.id, '0123456789abcdef01234567', 'nope']) {
      const refused = await generate(server(), stranger.key, { modelId: 'tiny-sd15', prompt: 'x', baseImageId });
      expect(codes(refused)).toEqual(['NOT_FOUND']);
    }
    expect(await balanceOf(server(), stranger.key)).toBe(20);
  });

  it('shows a generation its base image, with a signed link for <img> that opens that upload only', async () => {
    const owner = await server().createUser('reuser');
    const bytes = await image('webp', 96, 64);
    const uploaded = (await (await post(bytes, { ...bearer(owner.key), 'content-type': 'image/webp' })).json()) as { id: string };
    const img2img = (await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x', baseImageId: uploaded.id })).data!.generateImage.id;
    const txt2img = (await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage.id;
    type Shown = { generation: { baseImage: { id: string; url: string; signedUrl: string; width: number; height: number } | null } };
    const query = 'query ($id: ID!) { generation(id: $id) { baseImage { id url signedUrl width height } } }';
    const { baseImage } = (await server().graphql<Shown>(query, { key: owner.key, variables: { id: img2img } })).data!.generation;
    expect(baseImage).toEqual({
      id: uploaded.id,
      url: `${server().url}/uploads/${uploaded.id}`,
      signedUrl: expect.stringMatching(new RegExp(`^${server().url}/uploads/${uploaded.id}\\?expires=\\d+&token=[\\w-]+$`)),
      width: 96,
      height: 64,
    });
    expect((await server().graphql<Shown>(query, { key: owner.key, variables: { id: txt2img } })).data!.generation.baseImage).toBeNull();

    const linked = await fetch(baseImage!.signedUrl);
    expect(linked.status).toBe(200);
    expect(linked.headers.get('content-type')).toBe('image/webp');
    expect(Buffer.from(await linked.arrayBuffer()).equals(bytes)).toBe(true);
    // The same signature names an upload, not a generated image of that id, nor another upload.
    const other = (await (await post(await image('png'), { ...bearer(owner.key), 'content-type': 'image/png' })).json()) as { id: string };
    for (const forged of [baseImage!.signedUrl.replace('/uploads/', '/images/'), baseImage!.signedUrl.replace(uploaded.id, other.id)]) {
      expect((await fetch(forged)).status).toBe(403);
    }
  });
});

describe('GET /images/:id', () => {
  it("serves a finished generation's PNG at its absolute URL, to its owner only", async () => {
    const owner = await server().createUser('collector');
    const stranger = await server().createUser('snoop');
    const { id } = (await generate(server(), owner.key, { modelId: 'tiny-sd15', prompt: 'x' })).data!.generateImage;
    const png = await image('png', 128, 128);
    // As the callback endpoint completes a job.
    const fileId = await storeGeneratedImage({ userId: owner.user.id, generationId: id, png, seed: 42, width: 128, height: 128 });
    await GenerationModel.updateOne({ _id: id }, { $set: { status: 'SUCCEEDED', images: [{ fileId, seed: 42, width: 128, height: 128 }] } });

    const response = await server().graphql<{ generation: { images: { id: string; url: string; signedUrl: string; seed: number; width: number }[] } }>(
      'query ($id: ID!) { generation(id: $id) { images { id url signedUrl seed width } } }',
      { key: owner.key, variables: { id } },
    );
    const [stored] = response.data!.generation.images;
    expect(stored).toEqual({
      id: fileId.toHexString(),
      url: `${server().url}/images/${fileId.toHexString()}`,
      signedUrl: expect.stringMatching(new RegExp(`^${server().url}/images/${fileId.toHexString()}\\?expires=\\d+&token=[\\w-]+$`)),
      seed: 42,
      width: 128,
    });

    // The signed link stands in for the key (an <img> tag sends none), for this image only.
    const linked = await fetch(stored.signedUrl);
    expect(linked.status).toBe(200);
    expect(Buffer.from(await linked.arrayBuffer()).equals(png)).toBe(true);
    const otherImage = await storeGeneratedImage({ userId: owner.user.id, generationId: id, png, seed: 43, width: 128, height: 128 });
    for (const forged of [stored.signedUrl.replace(/token=./, 'token=A'), stored.signedUrl.replace(fileId.toHexString(), otherImage.toHexString())]) {
      const refused = await fetch(forged);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    }

    const download = await fetch(stored.url, { headers: bearer(owner.key) });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('cache-control')).toMatch(/^private/);
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);

    for (const [url, headers, status] of [
      [stored.url, bearer(stranger.key), 404],
      [stored.url, {}, 401],
      [`${server().url}/images/not-an-id`, bearer(owner.key), 404],
      [`${server().url}/images/0123456789abcdef01234567`, bearer(owner.key), 404],
    ] as const) {
      const refused = await fetch(url, { headers });
      expect(refused.status, `${url} ${JSON.stringify(headers)}`).toBe(status);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(status === 404 ? 'NOT_FOUND' : 'UNAUTHENTICATED');
    }
  });
});
