import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Types } from 'mongoose';
import type { ImageBucket, ImageMetadata, ImageStore } from './stored-image.js';

export interface S3StoreOptions {
  bucket: string;
  region: string;
  /** An S3-compatible service (MinIO, R2, a local server); unset: AWS S3. */
  endpoint?: string;
  /** `https://host/bucket/key` addressing, which most S3-compatible services need. */
  forcePathStyle: boolean;
}

/*
 * Images as objects `<images|uploads>/<id>` in one S3 bucket. What GridFS keeps beside a file
 * (owner, type, size, generation, seed) goes in the object's user metadata, so describing a file
 * is one HEAD. Credentials come from the AWS SDK's usual chain (variables, profile, role).
 */
export function s3Store(options: S3StoreOptions, client = new S3Client({ region: options.region, endpoint: options.endpoint, forcePathStyle: options.forcePathStyle })): ImageStore {
  const Bucket = options.bucket;
  const Key = (name: ImageBucket, id: Types.ObjectId) => `${name}/${id.toHexString()}`;

  return {
    kind: 's3',

    async put(name, id, filename, bytes, metadata) {
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key: Key(name, id),
          Body: bytes,
          ContentType: metadata.contentType,
          ContentDisposition: `inline; filename="${filename}"`,
          Metadata: toS3Metadata(metadata),
        }),
      );
    },

    async describe(name, id) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: Key(name, id) }));
        const metadata = fromS3Metadata(head.Metadata ?? {}, head.ContentType);
        return metadata && { length: head.ContentLength ?? 0, uploadDate: head.LastModified ?? new Date(0), metadata };
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },

    async open(name, id) {
      const object = await client.send(new GetObjectCommand({ Bucket, Key: Key(name, id) }));
      return object.Body as NodeJS.ReadableStream;
    },

    async delete(name, id) {
      // S3 deletes a missing key without complaint; the contract is to say so.
      if (!(await this.describe(name, id))) throw new Error(`${Key(name, id)} is not in bucket ${Bucket}`);
      await client.send(new DeleteObjectCommand({ Bucket, Key: Key(name, id) }));
    },
  };
}

function isMissing(error: unknown): boolean {
  return error instanceof NotFound || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404);
}

/** S3 user metadata is string-valued and lower-case keyed. */
function toS3Metadata(metadata: ImageMetadata): Record<string, string> {
  const entries = Object.entries({ ...metadata, contentType: undefined }).filter(([, value]) => value !== undefined);
  return Object.fromEntries(entries.map(([key, value]) => [key.toLowerCase(), String(value)]));
}

function fromS3Metadata(stored: Record<string, string>, contentType: string | undefined): ImageMetadata | undefined {
  if (!stored.userid || !contentType) return undefined;
  return {
    userId: stored.userid,
    contentType,
    width: Number(stored.width),
    height: Number(stored.height),
    ...(stored.generationid !== undefined && { generationId: stored.generationid }),
    ...(stored.seed !== undefined && { seed: Number(stored.seed) }),
  };
}
