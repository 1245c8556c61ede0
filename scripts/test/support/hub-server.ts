import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A local stand-in for the Hugging Face Hub, speaking the same two endpoints (the file list with
 * `blobs=true`, and `resolve` with Range), with faults a test can arm: a transfer cut mid-file,
 * bytes that do not match the listed hash, a gated repository.
 */
export interface FakeRepo {
  commit: string;
  files: Map<string, Buffer>;
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
}

export interface HubRequest {
  path: string;
  range?: string;
  authorization?: string;
}

export interface HubServer {
  url: string;
  repos: Map<string, FakeRepo>;
  requests: HubRequest[];
  /** File path -> how many more transfers of it to cut off halfway. */
  cuts: Map<string, number>;
  /** File paths served with their bytes flipped (the listing keeps the true hash). */
  corrupt: Set<string>;
  close(): Promise<void>;
}

export async function readRepoFolder(dir: string, commit: string): Promise<FakeRepo> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full).split(path.sep).join('/'), await readFile(full));
  }
  return { commit, files };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, FakeRepo>();
  const requests: HubRequest[] = [];
  const cuts = new Map<string, number>();
  const corrupt = new Set<string>();

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://hub');
    const pathname = decodeURIComponent(url.pathname);
    requests.push({ path: pathname, range: request.headers.range, authorization: request.headers.authorization });

    const listing = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname);
    const repo = repos.get((listing ?? resolve)?.[1] ?? '');
    if (!repo) return void response.writeHead(404).end('{"error":"Repository not found"}');
    if (repo.token && request.headers.authorization !== `Bearer ${repo.token}`) return void response.writeHead(401).end('{"error":"gated"}');

    if (listing) {
      if (![repo.commit, 'main'].includes(listing[2])) return void response.writeHead(404).end('{"error":"Revision not found"}');
      const siblings = [...repo.files].map(([rfilename, bytes]) =>
        rfilename.endsWith('.onnx') ? { rfilename, size: bytes.length, lfs: { sha256: sha256(bytes), size: bytes.length } } : { rfilename, size: bytes.length },
      );
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: listing[1], sha: repo.commit, siblings }));
    }

    const [, , commit, file] = resolve!;
    let bytes = repo.files.get(file);
    if (commit !== repo.commit || !bytes) return void response.writeHead(404).end('Entry not found');
    if (corrupt.has(file)) bytes = Buffer.from(bytes.map((byte) => byte ^ 0xff));
    const start = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1] ?? 0);
    if (start >= bytes.length && start > 0) return void response.writeHead(416).end();
    const body = bytes.subarray(start);
    response.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length,
      'accept-ranges': 'bytes',
      ...(start > 0 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    const cutsLeft = cuts.get(file) ?? 0;
    if (cutsLeft === 0) return void response.end(body);
    // Half the bytes, then the connection drops, as a flaky network does. The pause lets the client
    // read what was sent: a stream that errors drops the chunks still queued in it.
    cuts.set(file, cutsLeft - 1);
    response.write(body.subarray(0, Math.floor(body.length / 2)));
    setTimeout(() => response.socket?.destroy(), 100);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    repos,
    requests,
    cuts,
    corrupt,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
