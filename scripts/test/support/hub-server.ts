import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A local stand-in for the Hugging Face Hub, speaking the endpoints @huggingface/hub calls to
 * fetch a model: the model info (`/api/models/{repo}/revision/{rev}`, with `sha`), the file tree
 * (`/api/models/{repo}/tree/{rev}`, recursive, in pages linked by `Link: rel="next"` as the Hub
 * pages them), and `resolve` with Range and the Hub's headers (ETag, X-Repo-Commit, X-Linked-Etag,
 * X-Linked-Size). Faults a test can arm: a transfer cut mid-file, bytes that do not match the
 * listed hash, a gated repository.
 */
export interface FakeRepo {
  commit: string;
  files: Map<string, Buffer>;
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
}

export interface HubRequest {
  method: string;
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
/** What git names a file's content, and the Hub its ETag when the file is not in LFS. */
export const gitBlobHash = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
/** Files the stand-in keeps in LFS, as the Hub does with weights. */
const isLfs = (file: string) => /\.(onnx|safetensors)$/.test(file);
/** Entries per page of the tree listing: small, so that listing a model takes several pages. */
const TREE_PAGE = 8;

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  oid: string;
  size: number;
  lfs?: { oid: string; size: number; pointerSize: number };
}

/** The repository's folders and files, as the Hub's tree API lists them (recursive). */
function tree(repo: FakeRepo): TreeEntry[] {
  const folders = new Set<string>();
  const files: TreeEntry[] = [];
  for (const [file, bytes] of repo.files) {
    const parts = file.split('/');
    for (let depth = 1; depth < parts.length; depth++) folders.add(parts.slice(0, depth).join('/'));
    files.push({
      type: 'file',
      path: file,
      oid: gitBlobHash(bytes),
      size: bytes.length,
      ...(isLfs(file) ? { lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: 134 } } : {}),
    });
  }
  const directories = [...folders].map((folder): TreeEntry => ({ type: 'directory', path: folder, oid: gitBlobHash(Buffer.from(folder)), size: 0 }));
  return [...directories, ...files].sort((a, b) => a.path.localeCompare(b.path));
}

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, FakeRepo>();
  const requests: HubRequest[] = [];
  const cuts = new Map<string, number>();
  const corrupt = new Set<string>();

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://hub');
    const pathname = decodeURIComponent(url.pathname);
    requests.push({ method: request.method ?? 'GET', path: pathname, range: request.headers.range, authorization: request.headers.authorization });

    const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(pathname);
    const listing = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname);
    const repo = repos.get((info ?? listing ?? resolve)?.[1] ?? '');
    const json = { 'content-type': 'application/json' };
    if (!repo) return void response.writeHead(404, { ...json, 'x-error-code': 'RepoNotFound' }).end('{"error":"Repository not found"}');
    if (repo.token && request.headers.authorization !== `Bearer ${repo.token}`) return void response.writeHead(401, json).end('{"error":"Access to this model is restricted"}');
    const revision = (info ?? listing ?? resolve)![2];
    if (![repo.commit, 'main'].includes(revision)) return void response.writeHead(404, { ...json, 'x-error-code': 'RevisionNotFound' }).end('{"error":"Revision not found"}');

    if (info) {
      const siblings = [...repo.files.keys()].map((rfilename) => ({ rfilename }));
      const body = { _id: info[1], id: info[1], sha: repo.commit, private: false, gated: repo.token ? 'manual' : false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z', siblings };
      return void response.writeHead(200, json).end(JSON.stringify(body));
    }

    if (listing) {
      const entries = tree(repo).filter((entry) => url.searchParams.get('recursive') === 'true' || !entry.path.includes('/'));
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const next = new URL(url.pathname + url.search, `http://${request.headers.host}`);
      next.searchParams.set('cursor', String(from + TREE_PAGE));
      const link = from + TREE_PAGE < entries.length ? { link: `<${next.href}>; rel="next"` } : {};
      return void response.writeHead(200, { ...json, ...link }).end(JSON.stringify(entries.slice(from, from + TREE_PAGE)));
    }

    const file = resolve![3];
    let bytes = repo.files.get(file);
    if (!bytes) return void response.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    const headers = {
      'accept-ranges': 'bytes',
      'x-repo-commit': repo.commit,
      etag: `"${gitBlobHash(bytes)}"`,
      ...(isLfs(file) ? { 'x-linked-etag': `"${sha256(bytes)}"`, 'x-linked-size': String(bytes.length) } : {}),
    };
    if (corrupt.has(file)) bytes = Buffer.from(bytes.map((byte) => byte ^ 0xff));
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const start = Number(range?.[1] ?? 0);
    const end = Math.min(bytes.length - 1, range?.[2] ? Number(range[2]) : bytes.length - 1);
    if (range && start >= bytes.length) return void response.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
    const body = bytes.subarray(start, end + 1);
    response.writeHead(range ? 206 : 200, {
      ...headers,
      'content-length': body.length,
      ...(range ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {}),
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
