import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Builds Easel Studio (api/studio) with Vite into api/studio/dist, which the API serves at `/`,
 * when the build is older than what it is made from: `npm run build` (so `npm start`) and
 * `npm test` call it, so nobody builds the page by hand. `--force` builds anyway.
 */

const STUDIO = path.join('api', 'studio');
/** What the page's bundle is made of, besides the studio folder itself. */
const ALSO_READ = [path.join('schema', 'src'), 'package-lock.json'];
const SKIPPED = new Set(['dist', 'node_modules', 'graphql-env.d.ts']);

/** The repository: the first folder above this file that holds api/studio (sources and dist/ alike). */
function repositoryRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, STUDIO, 'index.html'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`${STUDIO} not found above ${fileURLToPath(import.meta.url)}`);
  }
}

async function newestChange(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(target)) {
    if (!SKIPPED.has(entry)) newest = Math.max(newest, await newestChange(path.join(target, entry)));
  }
  return newest;
}

export interface StudioBuild {
  outDir: string;
  /** False when the last build was still current. */
  built: boolean;
}

export async function buildStudio({ force = false, quiet = false } = {}): Promise<StudioBuild> {
  const root = repositoryRoot();
  const studio = path.join(root, STUDIO);
  const outDir = path.join(studio, 'dist');
  const builtAt = await newestChange(path.join(outDir, 'index.html'));
  const sources = Math.max(await newestChange(studio), ...(await Promise.all(ALSO_READ.map((entry) => newestChange(path.join(root, entry))))));
  if (!force && builtAt > sources) return { outDir, built: false };

  // Vite is a build tool: loaded only when there is something to build.
  const { build } = await import('vite');
  await build({ configFile: path.join(studio, 'vite.config.ts'), logLevel: quiet ? 'warn' : 'info' });
  return { outDir, built: true };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { outDir, built } = await buildStudio({ force: process.argv.includes('--force') });
  console.log(built ? `Easel Studio built into ${outDir}` : `Easel Studio is up to date (${outDir})`);
}
