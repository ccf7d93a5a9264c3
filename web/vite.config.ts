import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/** The dashboard: `web/` → `web/dist`, served by `nightless serve` (src/server/web-ui.ts). */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Offline networks: everything the page needs is in these files, nothing from a CDN.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
