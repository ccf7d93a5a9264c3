import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withSummary } from './summary.mjs';

/** The repository root (bench/lib/ is two levels down). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `--key=value` and bare `--flag` (→ `'true'`) arguments of a bench script. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  return new Map(
    argv.map((a) => {
      // At the first `=` only: a value may hold more (`--node-args=--cpu-prof-dir=/tmp/p`).
      const flag = a.replace(/^--/, '');
      const at = flag.indexOf('=');
      return at === -1
        ? ([flag, 'true'] as const)
        : ([flag.slice(0, at), flag.slice(at + 1)] as const);
    }),
  );
}

/**
 * Replaces one bench's block in bench/RESULTS.md (between `<!-- NAME:latest:start/end -->`
 * under `heading`), creating the section when missing and leaving every other section, and any
 * hand-written notes outside the markers, untouched; then the summary at the top, made from
 * every block (`summary.mts`). Returns the file written.
 */
export function writeResultsSection(name: string, heading: string, report: string): string {
  const file = join(repoRoot, 'bench', 'RESULTS.md');
  const start = `<!-- ${name}:latest:start -->`;
  const end = `<!-- ${name}:latest:end -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Bench results\n';
  if (!text.includes(heading)) text = `${text.trimEnd()}\n\n${heading}\n\n${start}\n${end}\n`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) throw new Error(`${file}: ${name} markers missing`);
  const written = `${text.slice(0, from + start.length)}\n${report}\n${text.slice(to)}`;
  writeFileSync(file, withSummary(written));
  return file;
}

/** Throws unless `root` has a built `dist/` (benches that run `node bin/nightless.js` from it). */
export function requireBuilt(root: string): void {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error(`${root}/dist/ is missing: run \`npm run build\` there first`);
}
