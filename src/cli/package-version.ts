import { readFileSync } from 'node:fs';

/**
 * The package's version. package.json sits two levels above this module wherever it runs from:
 * `src/cli/`, `dist/cli/`, and `dist/bundle/` (one folder of chunks, scripts/bundle.mjs).
 */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const pkg = JSON.parse(text) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
