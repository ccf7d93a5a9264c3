import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

let eslint: ESLint;

// The project's own eslint.config.js without the type-aware rules (a whole-project TypeScript
// program takes tens of seconds); the size limit does not depend on types.
beforeAll(async () => {
  const config = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as {
    readonly default: Linter.Config[];
  };
  eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [...config.default, tseslint.configs.disableTypeChecked],
  });
});

/** A module of exactly `lines` lines: constants, a comment and blank lines mixed in. */
function moduleOf(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++)
    out.push(i % 3 === 0 ? `export const v${i} = ${i};` : i % 3 === 1 ? '// why' : '');
  return out.join('\n');
}

async function maxLinesProblems(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'max-lines').map((m) => m.message);
}

describe('no source file over 400 lines (eslint max-lines)', () => {
  it('fails a file under src/ of 401 lines, counting blank lines and comments', async () => {
    expect(await maxLinesProblems('src/core/size-probe.ts', moduleOf(401))).toEqual([
      expect.stringContaining('Maximum allowed is 400'),
    ]);
  });

  it('lets a file of 400 lines pass', async () => {
    expect(await maxLinesProblems('src/core/size-probe.ts', moduleOf(400))).toEqual([]);
  });

  it('leaves tests and benches alone', async () => {
    expect(await maxLinesProblems('test/core/size-probe.test.ts', moduleOf(450))).toEqual([]);
  });
});
