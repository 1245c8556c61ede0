import type { Types } from 'mongoose';

/** The shapes of stored images, shared by image-store.ts and the stores behind it. */
export type ImageBucket = 'uploads' | 'images';

export interface ImageMetadata {
  userId: string;
  contentType: string;
  width: number;
  height: number;
  /** Generated images: the generation, and the seed of this image of its batch. */
  generationId?: string;
  seed?: number;
}

export interface StoredImageFile {
  id: Types.ObjectId;
  bucket: ImageBucket;
  length: number;
  uploadDate: Date;
  metadata: ImageMetadata;
}

/** A stored file as a store describes it. */
export type StoredFileInfo = Pick<StoredImageFile, 'length' | 'uploadDate' | 'metadata'>;

/** Where image bytes live. Ids are ours (ObjectIds), so a file keeps its id whichever store holds it. */
export interface ImageStore {
  kind: 'gridfs' | 's3';
  put(bucket: ImageBucket, id: Types.ObjectId, filename: string, bytes: Buffer, metadata: ImageMetadata): Promise<void>;
  /** Undefined when there is no such file. */
  describe(bucket: ImageBucket, id: Types.ObjectId): Promise<StoredFileInfo | undefined>;
  open(bucket: ImageBucket, id: Types.ObjectId): Promise<NodeJS.ReadableStream>;
  /** Fails when the file is not there. */
  delete(bucket: ImageBucket, id: Types.ObjectId): Promise<void>;
}
