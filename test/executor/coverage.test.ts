import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { parseCobertura } from '../../src/executor/coverage/cobertura.js';
import { parseIstanbulSummary } from '../../src/executor/coverage/istanbul.js';
import { parseLcov } from '../../src/executor/coverage/lcov.js';
import { readCoverage } from '../../src/executor/coverage/read-coverage.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { job, observer, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

const LCOV = `TN:
SF:src/a.ts
DA:1,1
LF:3
LH:2
BRF:4
BRH:1
end_of_record
SF:src/b.ts
LF:7
LH:7
BRF:0
BRH:0
end_of_record
`;
const COBERTURA = `<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<!-- generated -->
<coverage branch-rate='0.5' branches-covered="1" branches-valid="2" line-rate="0.83333" timestamp="1" version="6.5">
  <packages><package line-rate="0.1" branch-rate="0.1"/></packages>
</coverage>`;
const ISTANBUL = JSON.stringify({
  total: {
    lines: { total: 3, covered: 2, pct: 66.666 },
    branches: { total: 0, covered: 0, pct: 'Unknown' },
  },
});

describe('coverage parsers', () => {
  it('lcov sums LF/LH and BRF/BRH over records', () => {
    expect(parseLcov(LCOV)).toEqual({ ok: true, figures: { lines: 90, branches: 25 } });
    expect(parseLcov('garbage')).toMatchObject({ ok: false });
  });

  it('cobertura reads the root element attributes only', () => {
    expect(parseCobertura(COBERTURA)).toEqual({
      ok: true,
      figures: { lines: 83.33, branches: 50 },
    });
    expect(
      parseCobertura('<coverage line-rate="1.0" branch-rate="0" branches-valid="0"></coverage>'),
    ).toEqual({ ok: true, figures: { lines: 100, branches: null } });
    expect(parseCobertura('<report line-rate="1"/>')).toMatchObject({ ok: false });
    expect(parseCobertura('<coverage line-rate="high">')).toMatchObject({ ok: false });
  });

  it('istanbul json-summary reads total.lines.pct and total.branches.pct', () => {
    expect(parseIstanbulSummary(ISTANBUL)).toEqual({
      ok: true,
      figures: { lines: 66.67, branches: null },
    });
    expect(parseIstanbulSummary('{"total":{}}')).toMatchObject({ ok: false });
    expect(parseIstanbulSummary('{not json')).toMatchObject({ ok: false });
  });

  it('missing or escaping files are warnings', async () => {
    const ws = await tmp.make();
    expect(await readCoverage(ws, { format: 'lcov', path: 'nope.info' })).toEqual({
      figures: null,
      warning: 'coverage (lcov, nope.info): file not found',
    });
    expect((await readCoverage(ws, { format: 'lcov', path: '../../etc/passwd' })).warning).toMatch(
      /outside the workspace/,
    );
  });
});

describe('coverage in a run', () => {
  it('is read after the steps for all three formats, even when a step failed; malformed → warning', async () => {
    const dataDir = await tmp.make();
    const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir) });
    const src = await tmp.make();
    await mkdir(join(src, 'c'));
    await writeFile(join(src, 'c', 'lcov.info'), LCOV);
    await writeFile(join(src, 'c', 'cobertura.xml'), COBERTURA);
    await writeFile(join(src, 'c', 'summary.json'), ISTANBUL);
    const never = new AbortController().signal;
    const run = (format: 'lcov' | 'cobertura' | 'istanbul', file: string, exit = 0) =>
      ex.run(
        spec(
          job([step('test', `cp -r ${src}/c cov; exit ${exit}`)], {
            coverage: { format, path: `cov/${file}` },
          }),
        ),
        observer(),
        never,
      );
    expect(await run('lcov', 'lcov.info')).toMatchObject({
      state: 'passed',
      coverage: { lines: 90, branches: 25 },
      warnings: [],
    });
    expect(await run('cobertura', 'cobertura.xml', 1)).toMatchObject({
      state: 'failed',
      coverage: { lines: 83.33, branches: 50 },
    });
    expect(await run('istanbul', 'summary.json')).toMatchObject({
      coverage: { lines: 66.67, branches: null },
    });
    const bad = await run('istanbul', 'lcov.info');
    expect(bad).toMatchObject({ state: 'passed', coverage: null });
    expect(bad.warnings).toEqual([
      expect.stringMatching(/^coverage \(istanbul, cov\/lcov.info\): invalid JSON/),
    ]);
  });
});
