import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

interface LintConfigModule {
  readonly default: Linter.Config[];
  readonly MAY_IMPORT: Readonly<Record<string, readonly string[] | null>>;
  readonly STORE_PORTS: readonly string[];
}

let config: LintConfigModule;
let eslint: ESLint;

/**
 * The project's own eslint.config.js, with only the rules that need type information turned off:
 * a type-checked run builds a TypeScript program of the whole project (tens of seconds), and
 * boundaries and core purity do not depend on types.
 */
beforeAll(async () => {
  config = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as LintConfigModule;
  eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [...config.default, tseslint.configs.disableTypeChecked],
  });
});

/** Lints `code` as if it were the file `path` (relative to the repository); nothing is written. */
async function lint(path: string, code: string): Promise<Array<{ rule: string; text: string }>> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).map((m) => ({ rule: m.ruleId ?? '(parse)', text: m.message }));
}

describe('lint boundaries (eslint.config.js)', () => {
  it('refuses I/O modules in src/core', async () => {
    for (const mod of ['node:fs', 'fs/promises', 'node:net', 'node:child_process']) {
      const problems = await lint(
        'src/core/lint-probe.ts',
        `import * as m from '${mod}';\nexport const n = Object.keys(m).length;\n`,
      );
      expect(problems, mod).toEqual([
        { rule: 'no-restricted-imports', text: expect.stringContaining('src/core is pure') },
      ]);
    }
  });

  it('refuses the clock, randomness, process and timers in src/core', async () => {
    const problems = await lint(
      'src/core/lint-probe.ts',
      [
        'export const at = (): number => Date.now();',
        'export const dice = (): number => Math.random();',
        "export const home = (): string | undefined => process.env['HOME'];",
        'export const later = (f: () => void): unknown => setTimeout(f, 1);',
        // Types and pure Math stay allowed.
        'export const max = (d: Date, n: number): number => Math.max(d.getTime(), n);',
      ].join('\n'),
    );
    expect(problems.map((p) => p.rule)).toEqual([
      'no-restricted-globals',
      'no-restricted-properties',
      'no-restricted-globals',
      'no-restricted-globals',
    ]);
  });

  it('refuses an import across a boundary, naming what the folder may import', async () => {
    const fromScheduler = await lint(
      'src/scheduler/lint-probe.ts',
      "import { buildServer } from '../server/build-server.js';\nexport const b = buildServer;\n",
    );
    expect(fromScheduler).toEqual([
      {
        rule: 'import-x/no-restricted-paths',
        text: expect.stringContaining('src/scheduler may import only core, async'),
      },
    ]);
    // The server gets ports and commands, never the engine.
    const fromServer = await lint(
      'src/server/routes/lint-probe.ts',
      "import type { Engine } from '../../app/engine.js';\nexport type E = Engine;\n",
    );
    expect(fromServer.map((p) => p.rule)).toEqual(['import-x/no-restricted-paths']);
    const intoCore = await lint(
      'src/core/lint-probe.ts',
      "import type { Store } from '../store/ports.js';\nexport type S = Store;\n",
    );
    expect(intoCore.map((p) => p.rule)).toEqual(['import-x/no-restricted-paths']);
  });

  it('lets a folder import what the table allows', async () => {
    const problems = await lint(
      'src/scheduler/lint-probe.ts',
      [
        "import type { SchedulerPort } from '../store/ports.js';",
        "import { decide } from '../core/scheduler/index.js';",
        "import { SerialLoop } from '../async/serial-loop.js';",
        'export const parts = [decide, SerialLoop];',
        'export type P = SchedulerPort;',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
  });

  it('docs/architecture.md lists every folder with exactly what lint lets it import', async () => {
    const doc = await readFile(join(root, 'docs', 'architecture.md'), 'utf8');
    const rows = new Map<string, string>();
    for (const line of doc.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      const folder = /^`src\/([a-z-]+)\/`$/.exec(cells[1] ?? '')?.[1];
      if (folder !== undefined && cells.length >= 5) rows.set(folder, cells[3] ?? '');
    }
    const stored = new Set(config.STORE_PORTS);
    for (const [folder, allowed] of Object.entries(config.MAY_IMPORT)) {
      const expected =
        allowed === null
          ? 'everything'
          : allowed.includes('*')
            ? 'everything but `testing`'
            : allowed.length === 0
              ? 'nothing'
              : [
                  ...allowed.filter((a) => !stored.has(a)).map((a) => `\`${a}\``),
                  ...(allowed.some((a) => stored.has(a)) ? ['store ports'] : []),
                ].join(', ');
      expect(rows.get(folder), `src/${folder}/`).toBe(expected);
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(config.MAY_IMPORT).sort());
  });
});
