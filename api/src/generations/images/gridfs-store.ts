import mongoose, { type Types } from 'mongoose';
import type { ImageBucket, ImageMetadata, ImageStore } from './stored-image.js';

/** Images in the database itself (GridFS, one GridFS bucket per image bucket): nothing more to run. */
export const gridFsStore: ImageStore = {
  kind: 'gridfs',

  async put(name, id, filename, bytes, metadata) {
    const upload = bucket(name).openUploadStreamWithId(id, filename, { metadata });
    await new Promise<void>((resolve, reject) => {
      upload.once('finish', () => resolve());
      upload.once('error', reject);
      upload.end(bytes);
    });
  },

  async describe(name, id) {
    const [file] = (await bucket(name).find({ _id: id }).limit(1).toArray()) as unknown as GridFSFile[];
    return file?.metadata && { length: file.length, uploadDate: file.uploadDate, metadata: file.metadata };
  },

  async open(name, id) {
    return bucket(name).openDownloadStream(id);
  },

  async delete(name, id) {
    await bucket(name).delete(id);
  },
};

interface GridFSFile {
  _id: Types.ObjectId;
  length: number;
  uploadDate: Date;
  metadata?: ImageMetadata;
}

function bucket(name: ImageBucket) {
  const db = mongoose.connection.db;
  if (!db) throw new Error('The database is not connected; images cannot be read or stored.');
  return new mongoose.mongo.GridFSBucket(db, { bucketName: name });
}
