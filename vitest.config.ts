import { createRequire } from 'node:module';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // esbuild emits no decorator metadata, which type-graphql needs; swc does.
  plugins: [
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
    }),
  ],
  // graphql@16 ships .mjs beside .js; type-graphql loads the CommonJS build, as Node does for us at
  // run time, so tests must load that one too or graphql sees two realms.
  // Easel's packages resolve to their sources (the `easel-source` export condition), not dist/.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }], conditions: ['easel-source'] },
  ssr: { resolve: { conditions: ['easel-source'] } },
  test: {
    include: ['{api,gpu-runtime,schema,scripts}/test/**/*.test.ts'],
    // The API serves Easel Studio at `/`: build it first when its sources changed.
    globalSetup: ['scripts/test/studio-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
