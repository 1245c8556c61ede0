/**
 * One repository in the standard Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else
 * ~/.cache/huggingface/hub), laid out as huggingface_hub, huggingface-cli and diffusers lay it:
 *
 *   models--owner--name/
 *     blobs/<etag>                      each content once (<etag>.incomplete while it downloads)
 *     snapshots/<commit>/<path>         a relative symlink to ../../blobs/<etag>
 *     refs/<revision>                   the commit a branch or tag pointed at
 *
 * so what another tool downloaded is found here, and what Easel downloads serves them too.
 */
import { mkdir, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';

const COMMIT = /^[0-9a-f]{40}$/;

export class HubCacheRepo {
  readonly dir: string;

  constructor(cacheDir: string, repo: string) {
    this.dir = path.join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  }

  snapshotDir(commit: string): string {
    return path.join(this.dir, 'snapshots', commit);
  }

  blobPath(etag: string): string {
    return path.join(this.dir, 'blobs', etag);
  }

  /** The file's content on disk (the blob behind the snapshot's link), when the cache has it. */
  async find(commit: string, file: string): Promise<string | undefined> {
    return realpath(path.join(this.snapshotDir(commit), file)).then(
      async (found) => ((await stat(found)).isFile() ? found : undefined),
      () => undefined,
    );
  }

  async hasBlob(etag: string): Promise<boolean> {
    return stat(this.blobPath(etag)).then(
      (info) => info.isFile(),
      () => false,
    );
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag>, relatively, so the cache folder can move. */
  async link(commit: string, file: string, etag: string): Promise<string> {
    const pointer = path.join(this.snapshotDir(commit), file);
    await mkdir(path.dirname(pointer), { recursive: true });
    await rm(pointer, { force: true });
    await symlink(path.relative(path.dirname(pointer), this.blobPath(etag)), pointer);
    return this.blobPath(etag);
  }

  /** refs/<revision> names the commit a branch or tag points at (a commit needs no ref). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (COMMIT.test(revision)) return;
    const ref = path.join(this.dir, 'refs', revision);
    if ((await readFile(ref, 'utf8').catch(() => undefined)) === commit) return;
    await mkdir(path.dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }
}
