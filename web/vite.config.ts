import { defineConfig } from 'vite';

/** The dashboard: `web/` → `web/dist`, served by `nightless serve` (src/server/web-ui.ts). */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // JSX compiles against Preact (`jsxImportSource` in web/tsconfig.json); no plugin needed.
  // Never the development transform (source positions in every element), whatever NODE_ENV a
  // caller has (vitest sets `test`).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact', development: false } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Offline networks: everything the page needs is in these files, nothing from a CDN.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
