import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { storeGeneratedImage } from '../../src/generations/images/image-store.js';
import { useTestServer } from '../support/server.js';
import { S3RVER_CREDENTIALS, startLocalS3 } from '../support/s3.js';

// IMAGE_STORE=s3 against a local S3-compatible server; the SDK reads the standard AWS variables.
const s3 = await startLocalS3();
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
const server = useTestServer({ IMAGE_STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' });
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
});
