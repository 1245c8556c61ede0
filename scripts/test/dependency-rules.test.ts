import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const probes: string[] = [];

/** Runs the project's dependency check (`npm run lint:deps`'s command) on the given files. */
async function depcruise(files: string[]): Promise<{ code: number; output: string }> {
  const bin = path.join(ROOT, 'node_modules/.bin/depcruise');
  try {
    const { stdout } = await run(bin, [...files, '--config', '.dependency-cruiser.cjs'], { cwd: ROOT });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

/** A source file that exists only for the test, in the part named by its path. */
async function probe(file: string, source: string): Promise<string> {
  probes.push(file);
  await writeFile(path.join(ROOT, file), source);
  return file;
}

afterEach(async () => {
  await Promise.all(probes.splice(0).map((file) => rm(path.join(ROOT, file), { force: true })));
});

describe('the dependency rule (.dependency-cruiser.cjs)', () => {
  it('passes on the parts as they are', async () => {
    const { code, output } = await depcruise(['api', 'gpu-runtime', 'schema', 'scripts']);
    expect(output).toContain('no dependency violations');
    expect(code).toBe(0);
  });

  it("refuses a relative import of another part's internals", async () => {
    const file = await probe('api/src/probe-relative-import.ts', "export { createHandler } from '../../gpu-runtime/src/handler.js';\n");
    const { code, output } = await depcruise([file]);
    expect(code).not.toBe(0);
    expect(output).toContain('parts-meet-by-package-name');
    expect(output).toContain('parts-meet-at-public-entries');
  });

  it('refuses the GPU function importing the API, even by its package name', async () => {
    const file = await probe('gpu-runtime/src/probe-imports-api.ts', "export { VERSION } from '@easel/api';\n");
    const { code, output } = await depcruise([file]);
    expect(code).not.toBe(0);
    expect(output).toContain('gpu-runtime-never-imports-api');
  });

  it('refuses the schema importing another part, and production code importing a script', async () => {
    const schema = await probe('schema/src/probe-imports-runtime.ts', "export { handler } from '@easel/gpu-runtime';\n");
    const api = await probe('api/src/probe-imports-script.ts', "export * from '../../scripts/admin-program.js';\n");
    const { code, output } = await depcruise([schema, api]);
    expect(code).not.toBe(0);
    expect(output).toContain('schema-imports-nothing-of-ours');
    expect(output).toContain('production-code-imports-no-script');
  });

  it('refuses the API domain importing its GraphQL or HTTP adapters', async () => {
    const file = await probe('api/src/catalog/probe-imports-adapter.ts', "export type { GraphQLContext } from '../graphql/context.js';\n");
    const { code, output } = await depcruise([file]);
    expect(code).not.toBe(0);
    expect(output).toContain('domain-never-imports-adapters');
  });
});
