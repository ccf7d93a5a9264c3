#!/usr/bin/env node
/**
 * `npm start`'s build step: compiles `src/` into `dist/` (`tsc -p tsconfig.build.json`, then
 * `scripts/bundle.mjs`) and the dashboard into `web/dist/` (`vite build`) only when a source or
 * build setting is newer than the last successful build, so a start on an already built
 * checkout costs a directory walk (~10 ms) instead of a full compile (~10 s).
 * `--force` always compiles. The stamp is `dist/.build-stamp`; a failed compile leaves it alone.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const inputs = [
  'src',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'package-lock.json',
  'scripts/bundle.mjs',
  // The dashboard's sources, not its output (web/dist is newer than the stamp by construction).
  'web/src',
  'web/public',
  'web/index.html',
  'web/vite.config.ts',
];

/**
 * Newest modification time (ms) under `path`; 0 when it does not exist.
 * @param {string} path
 * @returns {number}
 */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs; // a deleted or renamed file changes its directory's mtime
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

const built = (() => {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return 0;
  }
})();
const changed = Math.max(...inputs.map((p) => newest(join(root, p))));
if (process.argv.includes('--force') || built === 0 || changed >= built) {
  const started = Date.now();
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs')], {
    stdio: 'inherit',
  });
  if (b.status !== 0) process.exit(b.status ?? 1);
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const w = spawnSync(
    process.execPath,
    [vite, 'build', '--config', join(root, 'web', 'vite.config.ts'), '--logLevel', 'warn'],
    { stdio: 'inherit', cwd: root },
  );
  if (w.status !== 0) process.exit(w.status ?? 1);
  writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
  // Stamped with the compile's start: a file saved while tsc ran is older than the stamp
  // would otherwise be, and must make the next start compile again.
  utimesSync(stamp, started / 1000, started / 1000);
  process.stderr.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
