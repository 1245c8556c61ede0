import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTinyModels, sharedTinyModelsDir } from '@easel/gpu-runtime/tiny-models';
import { GenerationModel } from '../../src/generations/generation.js';
import { storeGeneratedImage } from '../../src/generations/images/image-store.js';
import { generate } from '../generations/support.js';
import { useTestServer } from '../support/server.js';
import { S3RVER_CREDENTIALS, startLocalS3 } from '../support/s3.js';

// IMAGE_STORE=s3 against a local S3-compatible server; the SDK reads the standard AWS variables.
const s3 = await startLocalS3();
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
const TINY_MODELS = sharedTinyModelsDir();
await makeTinyModels(TINY_MODELS);
const server = useTestServer({ MODELS_DIR: TINY_MODELS, IMAGE_STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' });
afterAll(() => s3.stop());

describe('images in S3 (IMAGE_STORE=s3)', () => {
  it('keeps a generated image in the bucket, not in GridFS, and serves it to its owner and on its signed link only', async () => {
    const { user, key } = await server().createUser('ada');
    const { key: otherKey } = await server().createUser('bob');
    const png = Buffer.from('\x89PNG pretend bytes');
    const id = (await storeGeneratedImage({ userId: user.id, generationId: 'g1', png, seed: 3, width: 8, height: 8 })).toHexString();

    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `images/${id}` }));
    expect(head.ContentLength).toBe(png.length);
    expect(await mongoose.connection.db!.collection('images.files').countDocuments()).toBe(0);

    const own = await fetch(`${server().url}/images/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await own.arrayBuffer()).equals(png)).toBe(true);
    expect((await fetch(`${server().url}/images/${id}`, { headers: { authorization: `Bearer ${otherKey}` } })).status).toBe(404);

    const signed = await fetch(`${server().url}/images/${id}?${server().server.services.imageLinks.query(id)}`);
    expect(signed.status).toBe(200);
    expect(Buffer.from(await signed.arrayBuffer()).equals(png)).toBe(true);
  });

  it('during an S3 outage refuses the completed callback, so the job is not SUCCEEDED without its image; the function retries, and when S3 is back it ends with the image in the bucket', { timeout: 60_000 }, async () => {
    const { key } = await server().createUser('grace');
    await s3.pause();
    let resumed = false;
    try {
      const response = await generate(server(), key, { modelId: 'tiny-sd15', prompt: 'a lighthouse', enhancePrompt: false, width: 128, height: 128, steps: 4 });
      expect(response.errors).toBeUndefined();
      const id = response.data!.generateImage.id;
      // Every step is in; the completed event cannot store its image, and the API answers it 5xx.
      await expect.poll(async () => (await GenerationModel.findById(id).lean())?.step, { timeout: 30_000 }).toBe(4);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await GenerationModel.findById(id).lean())!.status).toBe('RUNNING');

      await s3.resume();
      resumed = true;
      await expect.poll(async () => (await GenerationModel.findById(id).lean())!.status, { timeout: 30_000 }).toBe('SUCCEEDED');
      const [image] = (await GenerationModel.findById(id).lean())!.images;
      const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `images/${image.fileId.toHexString()}` }));
      expect(head.ContentLength).toBeGreaterThan(0);
    } finally {
      if (!resumed) await s3.resume();
    }
  });
});
