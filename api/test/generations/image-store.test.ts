import mongoose, { Types } from 'mongoose';
import { beforeEach, describe, expect, it } from 'vitest';
import { deleteImages, findImage, storeGeneratedImage } from '../../src/generations/images/image-store.js';
import { clearDatabase, useTestDatabase } from '../support/database.js';

useTestDatabase();

beforeEach(async () => {
  await clearDatabase();
  await mongoose.connection.db!.collection('images.files').deleteMany({});
  await mongoose.connection.db!.collection('images.chunks').deleteMany({});
});

const store = (seed: number) =>
  storeGeneratedImage({ userId: 'user-ada', generationId: 'g1', png: Buffer.alloc(300_000, seed), seed, width: 8, height: 8 });

const chunks = () => mongoose.connection.db!.collection('images.chunks').countDocuments();

describe('deleteImages', () => {
  it('deletes the files and their chunks, and leaves the others', async () => {
    const [first, second, kept] = [await store(1), await store(2), await store(3)];
    expect(await chunks()).toBeGreaterThan(3);

    await deleteImages('images', [first, second]);
    expect(await findImage('images', String(first))).toBeUndefined();
    expect(await findImage('images', String(second))).toBeUndefined();
    expect(await findImage('images', String(kept))).toMatchObject({ id: kept, length: 300_000 });
    expect(await mongoose.connection.db!.collection('images.chunks').countDocuments({ files_id: { $ne: kept } })).toBe(0);
  });

  it('deletes every file it can, then says which could not be', async () => {
    const stored = await store(1);
    const missing = new Types.ObjectId();
    await expect(deleteImages('images', [missing, stored])).rejects.toThrow(/1 of 2 files could not be deleted from images/);
    expect(await findImage('images', String(stored))).toBeUndefined();
  });
});
