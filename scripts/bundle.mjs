#!/usr/bin/env node
/**
 * Bundles the compiled CLI (`dist/cli/main.js`, from `tsc`) into `dist/bundle/`, the entry
 * `bin/nightless.js` runs: a cold start loads a handful of files instead of ~600 ES modules
 * one by one (resolve, read, compile, link each). `serve --demo` listened ~440 ms sooner on a
 * slow 2-CPU VM (bench/RESULTS.md, "CLI and start-up"). Commands stay in chunks of their own
 * (`import()` splits), so `status` still loads only what it needs.
 *
 * Bundled: this package's modules, kysely (263 small modules: ~190 ms to load as they ship,
 * ~35 ms as one file) and commander (CommonJS, which every command loads: through node's
 * ESM-to-CommonJS path it was ~17 ms of a ~200 ms `status`; bundled, ~17 ms less end to end).
 * Every other dependency stays a package loaded from node_modules: native addons
 * (better-sqlite3, ssh2), pino's worker-thread transports, and those whose cost is their
 * evaluation, not their module count (zod).
 */
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLED = new Set(['kysely', 'commander']);

// JSON.parse is `any` to the linter; the cast says what package.json holds.
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
const pkg = /** @type {{ dependencies?: Record<string, string> }} */ (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
);
const external = Object.keys(pkg.dependencies ?? {})
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);
const outdir = join(root, 'dist', 'bundle');
// Chunk names carry content hashes: the chunks of an earlier build would pile up.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  external,
  sourcemap: 'linked',
  logLevel: 'warning',
  // Bundled CommonJS (commander) `require`s node built-ins, which an ES module can only do
  // through a `require` of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
