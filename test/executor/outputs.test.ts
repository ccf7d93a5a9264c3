import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { collectOutputs, outputDigest } from '../../src/executor/outputs.js';
import { job, observer, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const never = new AbortController().signal;

describe('outputs', () => {
  it('collects globbed files, digests them consistently, and stores identical content once across builds', async () => {
    const dataDir = await tmp.make();
    const store = new ContentStore(dataDir);
    const ex = new LocalExecutor({ dataDir, artifacts: store });
    const j = job(
      [
        step(
          'make',
          'mkdir -p dist/sub; echo -n A > dist/a.tgz; echo -n B > dist/sub/b.tgz; echo -n R > README',
        ),
      ],
      {
        outputs: { dist: ['dist/**/*.tgz'], readme: ['README'] },
      },
    );
    const r1 = await ex.run(spec(j), observer(), never);
    const r2 = await ex.run(spec(j), observer(), never);
    expect(r1.state).toBe('passed');
    expect(r1.outputs).toEqual([
      {
        name: 'dist',
        digest: sha(`dist/a.tgz ${sha('A')}\ndist/sub/b.tgz ${sha('B')}\n`),
        files: [
          { path: 'dist/a.tgz', digest: sha('A'), size: 1 },
          { path: 'dist/sub/b.tgz', digest: sha('B'), size: 1 },
        ],
      },
      {
        name: 'readme',
        digest: sha(`README ${sha('R')}\n`),
        files: [{ path: 'README', digest: sha('R'), size: 1 }],
      },
    ]);
    expect(r2.outputs).toEqual(r1.outputs);
    const blobs: string[] = [];
    for await (const d of store.list()) blobs.push(d);
    expect(blobs.sort()).toEqual([sha('A'), sha('B'), sha('R')].sort());
    expect(outputDigest([{ path: 'README', digest: sha('R') }])).toBe(r1.outputs[1]?.digest);
  });

  it('a matched directory contributes its files recursively', async () => {
    const ws = await tmp.make();
    await mkdir(join(ws, 'site', 'css'), { recursive: true });
    await writeFile(join(ws, 'site', 'index.html'), 'i');
    await writeFile(join(ws, 'site', 'css', 'a.css'), 'c');
    const [out] = await collectOutputs(ws, { site: ['site'] }, new ContentStore(await tmp.make()));
    expect(out?.files.map((f) => f.path)).toEqual(['site/css/a.css', 'site/index.html']);
  });

  it('refuses symlinks escaping the workspace and `..` patterns; no match is an error', async () => {
    const dataDir = await tmp.make();
    const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir) });
    const outside = join(await tmp.make(), 'secret.txt');
    await writeFile(outside, 'secret');
    const cases: [string, Record<string, string[]>, string, RegExp][] = [
      [
        'escape',
        { dist: ['dist/*'] },
        `mkdir dist; ln -s ${outside} dist/leak.tgz; echo ok > dist/ok.tgz`,
        /output "dist": dist\/leak.tgz points outside the workspace/,
      ],
      [
        'dir-escape',
        { dist: ['out/*'] },
        `ln -s ${join(outside, '..')} out`,
        /resolves outside the workspace/,
      ],
      [
        'dotdot',
        { dist: ['../*.txt'] },
        'true',
        /pattern "..\/\*.txt" must stay inside the workspace/,
      ],
      ['absolute', { dist: ['/etc/passwd'] }, 'true', /must stay inside the workspace/],
      [
        'none',
        { dist: ['dist/*.tgz'] },
        'mkdir dist',
        /^output "dist" matched no files \(dist\/\*.tgz\)$/,
      ],
    ];
    for (const [name, outputs, run, reason] of cases) {
      const r = await ex.run(spec(job([step(name, run)], { outputs })), observer(), never);
      expect(r, name).toMatchObject({ state: 'error', code: 'outputs', outputs: [] });
      expect(r.state === 'error' && r.reason, name).toMatch(reason);
    }
  });

  it('symlinks inside the workspace are stored as the file they point to', async () => {
    const ws = await tmp.make();
    await writeFile(join(ws, 'real.bin'), 'data');
    await symlink('real.bin', join(ws, 'link.bin'));
    const [out] = await collectOutputs(ws, { bin: ['*.bin'] }, new ContentStore(await tmp.make()));
    expect(out?.files).toEqual([
      { path: 'link.bin', digest: sha('data'), size: 4 },
      { path: 'real.bin', digest: sha('data'), size: 4 },
    ]);
  });
});
