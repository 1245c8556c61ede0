import { S3Client } from '@aws-sdk/client-s3';
import mongoose, { Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gridFsStore } from '../../src/generations/images/gridfs-store.js';
import {
  deleteImages,
  findImage,
  openImage,
  readImage,
  storeGeneratedImage,
  storeUpload,
  useImageStore,
  type ImageStore,
} from '../../src/generations/images/image-store.js';
import { s3Store } from '../../src/generations/images/s3-store.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../support/s3.js';

useTestDatabase();

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  useImageStore(gridFsStore);
  await s3?.stop();
});

const stores: [string, () => ImageStore][] = [
  ['GridFS', () => gridFsStore],
  [
    'S3 (s3rver)',
    () =>
      s3Store(
        { bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true },
        new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS }),
      ),
  ],
];

describe.each(stores)('images in %s', (_name, makeStore) => {
  beforeAll(() => useImageStore(makeStore()));
  beforeEach(async () => {
    await clearDatabase();
    await mongoose.connection.db!.collection('images.files').deleteMany({});
    await mongoose.connection.db!.collection('images.chunks').deleteMany({});
  });

  const store = (seed: number) =>
    storeGeneratedImage({ userId: 'user-ada', generationId: 'g1', png: Buffer.alloc(300_000, seed), seed, width: 8, height: 8 });

  it('stores a generated image with its owner and metadata, and gives back the same bytes', async () => {
    const id = await store(7);
    const file = await findImage('images', String(id), 'user-ada');
    expect(file).toMatchObject({
      id,
      bucket: 'images',
      length: 300_000,
      metadata: { userId: 'user-ada', contentType: 'image/png', width: 8, height: 8, generationId: 'g1', seed: 7 },
    });
    expect(file!.uploadDate).toBeInstanceOf(Date);
    const read = await readImage('images', String(id));
    expect(read!.bytes.equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it('keeps files to their owner and their bucket, and malformed ids out', async () => {
    const upload = await storeUpload('user-ada', Buffer.from('not really a png'), { format: 'png', width: 2, height: 3 });
    expect(await findImage('uploads', String(upload), 'user-ada')).toMatchObject({ metadata: { width: 2, height: 3, contentType: 'image/png' } });
    expect(await findImage('uploads', String(upload), 'user-bob')).toBeUndefined();
    expect(await findImage('images', String(upload))).toBeUndefined();
    expect(await findImage('uploads', 'nope')).toBeUndefined();
    expect(await findImage('uploads', String(new Types.ObjectId()))).toBeUndefined();
  });

  it('deletes the files it is given, and leaves the others', async () => {
    const [first, second, kept] = [await store(1), await store(2), await store(3)];
    await deleteImages('images', [first, second]);
    expect(await findImage('images', String(first))).toBeUndefined();
    expect(await findImage('images', String(second))).toBeUndefined();
    expect(await findImage('images', String(kept))).toMatchObject({ id: kept, length: 300_000 });
  });

  it('deletes every file it can, then says which could not be', async () => {
    const stored = await store(1);
    const missing = new Types.ObjectId();
    await expect(deleteImages('images', [missing, stored])).rejects.toThrow(/1 of 2 files could not be deleted from images/);
    expect(await findImage('images', String(stored))).toBeUndefined();
  });

  it('reports a file that vanished after it was found as an error on its stream', async () => {
    const id = await store(4);
    const file = (await findImage('images', String(id)))!;
    await deleteImages('images', [id]);
    const stream = openImage(file);
    await expect(
      new Promise((resolve, reject) => {
        stream.on('data', () => undefined);
        stream.once('end', resolve);
        stream.once('error', reject);
      }),
    ).rejects.toThrow();
  });
});

describe('images in GridFS', () => {
  it('keeps the chunks of deleted files no longer', async () => {
    useImageStore(gridFsStore);
    const chunks = () => mongoose.connection.db!.collection('images.chunks').countDocuments();
    const id = await storeGeneratedImage({ userId: 'u', generationId: 'g', png: Buffer.alloc(600_000, 1), seed: 1, width: 8, height: 8 });
    expect(await chunks()).toBeGreaterThan(1);
    await deleteImages('images', [id]);
    expect(await chunks()).toBe(0);
  });
});
