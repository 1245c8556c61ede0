/*
 * Images: what users upload as img2img bases (bucket `uploads`) and the PNGs the GPU function
 * makes (bucket `images`). Every file names its owner in its metadata, and every read here that
 * serves a user goes through that owner. Where the bytes live is an ImageStore: GridFS in the
 * database (the default) or an S3-compatible bucket (`IMAGE_STORE=s3`), chosen once at start.
 */
import { PassThrough } from 'node:stream';
import { Types } from 'mongoose';
import { gridFsStore } from './gridfs-store.js';
import type { ImageBucket, ImageMetadata, ImageStore, StoredImageFile } from './stored-image.js';

export type { ImageBucket, ImageMetadata, ImageStore, StoredFileInfo, StoredImageFile } from './stored-image.js';

/** Only the 24-hex form: mongoose would also take any 12-character string as an id. */
export const OBJECT_ID = /^[0-9a-f]{24}$/i;

let current: ImageStore = gridFsStore;

/** Chooses the store for this process (server start); GridFS until then. */
export function useImageStore(store: ImageStore): void {
  current = store;
}

export const imageStoreKind = () => current.kind;

async function store(name: ImageBucket, filename: string, bytes: Buffer, metadata: ImageMetadata): Promise<Types.ObjectId> {
  const id = new Types.ObjectId();
  await current.put(name, id, filename, bytes, metadata);
  return id;
}

/** Stores an uploaded base image; its id is what generateImage takes as `baseImageId`. */
export function storeUpload(
  userId: string,
  bytes: Buffer,
  image: { format: string; width: number; height: number },
): Promise<Types.ObjectId> {
  return store('uploads', `upload.${image.format}`, bytes, {
    userId,
    contentType: `image/${image.format}`,
    width: image.width,
    height: image.height,
  });
}

/** Stores one PNG of a finished generation (back's callback calls this); returns the file id for `images[].fileId`. */
export function storeGeneratedImage(image: {
  userId: string;
  generationId: string;
  png: Buffer;
  seed: number;
  width: number;
  height: number;
}): Promise<Types.ObjectId> {
  return store('images', `${image.generationId}-${image.seed}.png`, image.png, {
    userId: image.userId,
    contentType: 'image/png',
    width: image.width,
    height: image.height,
    generationId: image.generationId,
    seed: image.seed,
  });
}

/**
 * Deletes files from a bucket (the images of a completion that lost its race, which nothing refers
 * to). Tries every one; then fails if any could not be deleted, a file already gone included.
 */
export async function deleteImages(name: ImageBucket, ids: Types.ObjectId[]): Promise<void> {
  const results = await Promise.allSettled(ids.map((id) => current.delete(name, id)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length) throw new AggregateError(failures, `${failures.length} of ${ids.length} files could not be deleted from ${name}.`);
}

/**
 * A file's description, when it exists and (given an owner) belongs to them. Anything else,
 * malformed ids included, is undefined: a caller cannot tell "not yours" from "not there".
 */
export async function findImage(name: ImageBucket, id: string, ownerId?: string): Promise<StoredImageFile | undefined> {
  if (!OBJECT_ID.test(id)) return undefined;
  const fileId = new Types.ObjectId(id);
  const file = await current.describe(name, fileId);
  if (!file?.metadata || (ownerId !== undefined && file.metadata.userId !== ownerId)) return undefined;
  return { id: fileId, bucket: name, ...file };
}

/** The bytes of a stored file, streamed (for HTTP responses); a failure to open is the stream's error. */
export function openImage(file: StoredImageFile): NodeJS.ReadableStream {
  const stream = new PassThrough();
  current.open(file.bucket, file.id).then(
    (source) => {
      source.once('error', (error) => stream.destroy(error as Error));
      source.pipe(stream);
    },
    (error: Error) => stream.destroy(error),
  );
  return stream;
}

/** The whole file in memory, or undefined when it is not there (or not the owner's). */
export async function readImage(
  name: ImageBucket,
  id: string,
  ownerId?: string,
): Promise<{ file: StoredImageFile; bytes: Buffer } | undefined> {
  const file = await findImage(name, id, ownerId);
  if (!file) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of openImage(file)) chunks.push(chunk as Buffer);
  return { file, bytes: Buffer.concat(chunks) };
}
