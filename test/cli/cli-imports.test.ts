import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'src', 'cli');
/** Server-side folders: the client reads the API's types from src/api, never these at run time. */
const SERVER_SIDE = ['server', 'store', 'engine', 'executor', 'scheduler', 'runner', 'relay'];

/** Module paths a file loads at run time: value imports and `import()`, not `import type`. */
function runtimeImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) found.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

describe('the CLI', () => {
  it('loads nothing of the server side at run time (API types come from src/api)', async () => {
    const entries = await readdir(CLI, { withFileTypes: true, recursive: true });
    const offending: string[] = [];
    for (const e of entries.filter((x) => x.isFile() && x.name.endsWith('.ts'))) {
      const file = join(e.parentPath, e.name);
      for (const spec of runtimeImports(await readFile(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const top = relative(join(ROOT, 'src'), resolve(dirname(file), spec)).split('/')[0];
        if (SERVER_SIDE.includes(top ?? '')) offending.push(`${relative(ROOT, file)} → ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
