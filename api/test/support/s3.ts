import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** s3rver accepts these fixed credentials, and signs with them. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** An outage: stops answering, keeping the bucket's objects, until `resume`. */
  pause(): Promise<void>;
  /** Serves the same bucket again on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** A local S3-compatible server (s3rver, from npm) on a free port, with one empty bucket, its files in a temporary folder. */
export async function startLocalS3(bucket = 'easel-images'): Promise<LocalS3> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'easel-s3-'));
  const serve = async (port: number) => {
    const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
    const address = (await server.run()) as unknown as { port: number };
    return { server, port: address.port };
  };
  let running: Awaited<ReturnType<typeof serve>> | undefined = await serve(0);
  const { port } = running;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async pause() {
      await running?.server.close();
      running = undefined;
    },
    async resume() {
      running ??= await serve(port);
    },
    async stop() {
      await running?.server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
