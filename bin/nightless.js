#!/usr/bin/env node
// The CLI ships compiled and bundled; `npm run build` (run by `npm start` and `npm test`)
// produces dist/ (scripts/bundle.mjs: dist/bundle/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bundle', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`nightless: ${entry} is missing; run \`npm run build\` first\n`);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
