import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOKEN, startFakeApi } from './helpers/fake-api.js';
import { runCli, tempDir } from './helpers/spawn-cli.js';

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

/**
 * The files (relative to the package root) a real `nightless ARGS` process loads as modules,
 * and the node built-ins (`node:http`...) it loads.
 */
async function loadedBy(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ stdout: string; modules: string[]; builtins: string[] }> {
  const record = join(tempDir(), 'loads.txt');
  const hook = join(ROOT, 'test', 'cli', 'helpers', 'record-loads.mjs');
  const r = await runCli(args, {
    nodeArgs: ['--import', hook],
    env: { ...env, RECORD_LOADS_TO: record },
  });
  expect(r.code, r.stderr).toBe(0);
  const urls = (await readFile(record, 'utf8')).split('\n');
  const files = urls.filter((u) => u.startsWith('file:'));
  const modules = files.map((u) => relative(ROOT, fileURLToPath(u)));
  const builtins = urls.filter((u) => u.startsWith('node:'));
  return { stdout: r.stdout, modules: [...new Set(modules)], builtins: [...new Set(builtins)] };
}

describe('a cold start loads only what its command needs', { timeout: 120_000 }, () => {
  it('--help lists every command without loading the pipeline schema', async () => {
    const { stdout, modules } = await loadedBy(['--help']);
    expect(stdout).toMatch(/^\s+check \[options\] \[file\]/m);
    expect(modules).toContain('src/cli/commands/check.ts');
    const schema = /^(node_modules\/(zod|yaml)\/|src\/config\/(index|schema|load)\.ts)/;
    expect(modules.filter((m) => schema.test(m))).toEqual([]);
  });

  it('--version loads no command', async () => {
    const { stdout, modules } = await loadedBy(['--version']);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(modules.filter((m) => m.startsWith('src/cli/commands/'))).toEqual([]);
  });

  it('status against an http:// server does not load TLS', async () => {
    const api = await startFakeApi();
    try {
      const env = { NIGHTLESS_SERVER: api.url, NIGHTLESS_TOKEN: TOKEN };
      const { stdout, builtins } = await loadedBy(['status'], env);
      expect(stdout).toMatch(/^JOB +STATE/);
      expect(builtins).toContain('node:http');
      expect(builtins.filter((b) => /^node:(https|tls)$/.test(b))).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
