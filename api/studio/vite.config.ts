import { defaultClientConditions, defineConfig } from 'vite';

/**
 * Easel Studio, built into api/studio/dist and served by the API at `/`. The output must run
 * under a strict Content-Security-Policy (script-src 'self'; style-src 'self'): one module script
 * and one stylesheet, both files, nothing inlined into the HTML, no eval.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // @easel/schema (the settings' ranges) from its sources, as the tests read it.
  resolve: { conditions: ['easel-source', ...defaultClientConditions] },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Fonts, icons and images stay files: a data: URL in CSS is still an inline resource.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
