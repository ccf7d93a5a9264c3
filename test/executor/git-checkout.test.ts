import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import { git, gitInput, job, makeRepo, observer, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/** An executor whose git runner records every command. */
async function setup(): Promise<{ ex: LocalExecutor; dataDir: string; calls: string[][] }> {
  const dataDir = await tmp.make();
  const calls: string[][] = [];
  const runGit: GitRunner = (args, o) => {
    calls.push([...args]);
    return spawnGit(args, o);
  };
  const mirrors = new GitMirrors(join(dataDir, 'git'), { runGit });
  return {
    ex: new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), mirrors }),
    dataDir,
    calls,
  };
}

async function stdout(dataDir: string, buildId: number): Promise<string[]> {
  const { lines } = await readLog(dataDir, buildId, 0, 1 << 20);
  return lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
}

const never = new AbortController().signal;

describe('git inputs', () => {
  it('checks out an exact older commit at the workspace root while the branch moved on, reusing the mirror', async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': 'one\n' }, { 'a.txt': 'two\n' }]);
    const { ex, dataDir, calls } = await setup();
    const j = job([
      step(
        'show',
        'cat a.txt; git rev-parse HEAD; echo "$NIGHTLESS_INPUT_APP_PATH $NIGHTLESS_INPUT_APP_REF"; git status --porcelain',
      ),
    ]);
    const s1 = spec(j, { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    const ws1 = join(dataDir, 'workspaces', String(s1.buildId));
    expect(await stdout(dataDir, s1.buildId)).toEqual(['one', c1, `${ws1} main`]);
    const mirror = ex.mirrors.mirrorDir(repo);
    const inode = (await stat(mirror)).ino;
    expect(calls.filter((c) => c[0] === 'clone')).toHaveLength(1);

    // Second build of a known commit: no clone, no fetch.
    const s2 = spec(j, { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect((await stdout(dataDir, s2.buildId))[0]).toBe('two');
    expect(calls.filter((c) => c.includes('clone') || c.includes('fetch'))).toHaveLength(1);
    expect((await stat(mirror)).ino).toBe(inode);

    // A new commit: fetched incrementally into the same mirror.
    const [c3] = makeRepo(repo, [{ 'a.txt': 'three\n' }]);
    const s3 = spec(j, { inputs: [gitInput('app', repo, c3!)] });
    expect((await ex.run(s3, observer(), never)).state).toBe('passed');
    expect((await stdout(dataDir, s3.buildId))[0]).toBe('three');
    expect(calls.filter((c) => c.includes('fetch'))).toHaveLength(1);
    expect(calls.filter((c) => c[0] === 'clone')).toHaveLength(1);
  });

  it('bare repos and several inputs under ws/<name>; refs with shell syntax are data', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'x.txt': 'x\n' }]);
    const branch = 'feature/$(touch${IFS}/tmp/nightless-pwned-ref)';
    git(repo, 'branch', branch);
    const bare = join(await tmp.make(), 'lib.git');
    git(repo, 'clone', '--quiet', '--bare', repo, bare);
    const { ex, dataDir } = await setup();
    const s = spec(
      job([
        step(
          'show',
          'cat app/x.txt lib/x.txt; echo "$NIGHTLESS_INPUT_APP_REF"; jq -r .inputs.lib.path "$NIGHTLESS_INPUTS_FILE" 2>/dev/null || node -e "console.log(require(process.env.NIGHTLESS_INPUTS_FILE).inputs.lib.path)"',
        ),
      ]),
      {
        inputs: [gitInput('app', repo, c1!, branch), gitInput('lib', bare, c1!)],
      },
    );
    const r = await ex.run(s, observer(), never);
    expect(r.state).toBe('passed');
    const ws = join(dataDir, 'workspaces', String(s.buildId));
    expect(await stdout(dataDir, s.buildId)).toEqual(['x', 'x', branch, join(ws, 'lib')]);
    expect(existsSync('/tmp/nightless-pwned-ref')).toBe(false);
  });

  it('an unknown commit is a checkout error, an invalid one too; the workspace is kept', async () => {
    const repo = await tmp.make();
    makeRepo(repo, [{ 'a.txt': 'a' }]);
    const { ex, dataDir } = await setup();
    const s = spec(job([step('x', 'true')]), { inputs: [gitInput('app', repo, 'f'.repeat(40))] });
    const r = await ex.run(s, observer(), never);
    expect(r).toMatchObject({
      state: 'error',
      code: 'checkout',
      reason: `commit ${'f'.repeat(40)} not found in ${repo}`,
    });
    expect(existsSync(join(dataDir, 'workspaces', String(s.buildId)))).toBe(true);
    const bad = await ex.run(
      spec(job([step('x', 'true')]), {
        inputs: [gitInput('app', repo, '--upload-pack=touch /tmp/x')],
      }),
      observer(),
      never,
    );
    expect(bad).toMatchObject({ state: 'error', code: 'checkout' });
    const missing = await ex.run(
      spec(job([step('x', 'true')]), {
        inputs: [gitInput('app', join(repo, 'nope'), 'a'.repeat(40))],
      }),
      observer(),
      never,
    );
    expect(missing).toMatchObject({ state: 'error', code: 'checkout' });
    expect(missing.state === 'error' && missing.reason).toMatch(/git clone of .* failed/);
  });

  it('serializes concurrent builds on one mirror: one clone', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': 'a' }]);
    const { ex, calls } = await setup();
    const runs = [1, 2, 3].map(() =>
      ex.run(
        spec(job([step('x', 'test -f a.txt')]), { inputs: [gitInput('app', repo, c1!)] }),
        observer(),
        never,
      ),
    );
    expect((await Promise.all(runs)).map((r) => r.state)).toEqual(['passed', 'passed', 'passed']);
    expect(calls.filter((c) => c[0] === 'clone')).toHaveLength(1);
  });

  it('materializes job-output inputs by hard link from the content store', async () => {
    const { ex, dataDir } = await setup();
    const store = new ContentStore(dataDir);
    await mkdir(join(dataDir, 'src', 'lib'), { recursive: true });
    await writeFile(join(dataDir, 'src', 'app.tgz'), 'tarball');
    const blob = await store.put(join(dataDir, 'src', 'app.tgz'));
    const s = spec(
      job([
        step(
          'use',
          'cat "$NIGHTLESS_INPUT_BUILD_DIST_PATH/dist/app.tgz"; echo; echo "$NIGHTLESS_INPUT_BUILD_DIST_VERSION"; stat -c %i "$NIGHTLESS_INPUT_BUILD_DIST_PATH/dist/app.tgz"; exit 1',
        ),
      ]),
      {
        inputs: [
          {
            source: 'build.dist',
            version: 'd'.repeat(64),
            ref: null,
            origin: 'output',
            eventId: null,
            def: {
              kind: 'job-output',
              name: 'build.dist',
              job: 'build',
              output: 'dist',
              quietPeriodMs: null,
            },
            files: [{ path: 'dist/app.tgz', digest: blob.digest, size: blob.size }],
          },
        ],
      },
    );
    await ex.run(s, observer(), never);
    const out = await stdout(dataDir, s.buildId);
    expect(out.slice(0, 2)).toEqual(['tarball', 'd'.repeat(64)]);
    expect(Number(out[2])).toBe((await stat(store.pathOf(blob.digest))).ino);
    const manifest = JSON.parse(
      await readFile(
        join(dataDir, 'workspaces', String(s.buildId), 'nightless-inputs.json'),
        'utf8',
      ),
    );
    expect(manifest.inputs['build.dist']).toEqual({
      kind: 'job-output',
      version: 'd'.repeat(64),
      ref: null,
      path: join(dataDir, 'workspaces', String(s.buildId), '.nightless', 'inputs', 'build.dist'),
      files: [
        join(
          dataDir,
          'workspaces',
          String(s.buildId),
          '.nightless',
          'inputs',
          'build.dist',
          'dist',
          'app.tgz',
        ),
      ],
    });
  });

  it('a job taking a repository and an upstream output: the checkout at the root, the files in _FILES', async () => {
    // The README's chained pattern: `inputs: [app, build.dist]`, `./integration.sh "$…_FILES"`.
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [
      {
        'integration.sh':
          '#!/bin/sh\nfor f in "$@"; do echo "got $(basename "$f"): $(cat "$f")"; done\n',
      },
    ]);
    git(repo, 'update-index', '--chmod=+x', 'integration.sh');
    git(repo, 'commit', '-qm', 'exec');
    const head = git(repo, 'rev-parse', 'HEAD');
    expect(head).not.toBe(c1);
    const { ex, dataDir } = await setup();
    const store = new ContentStore(dataDir);
    await writeFile(join(dataDir, 'a.tgz'), 'first');
    await writeFile(join(dataDir, 'b.tgz'), 'second');
    const a = await store.put(join(dataDir, 'a.tgz'));
    const b = await store.put(join(dataDir, 'b.tgz'));
    const s = spec(
      job([
        step('count', 'printf "%s\\n" "$NIGHTLESS_INPUT_BUILD_DIST_FILES" | wc -l'),
        step(
          'all files',
          'printf "%s\\n" "$NIGHTLESS_INPUT_BUILD_DIST_FILES" | xargs ./integration.sh',
        ),
      ]),
      {
        inputs: [
          gitInput('app', repo, head),
          {
            source: 'build.dist',
            version: 'e'.repeat(64),
            ref: null,
            origin: 'output',
            eventId: null,
            def: {
              kind: 'job-output',
              name: 'build.dist',
              job: 'build',
              output: 'dist',
              quietPeriodMs: null,
            },
            files: [
              { path: 'dist/b.tgz', digest: b.digest, size: b.size },
              { path: 'dist/a.tgz', digest: a.digest, size: a.size },
            ],
          },
        ],
      },
    );
    const result = await ex.run(s, observer(), never);
    expect(result.state).toBe('passed');
    expect(await stdout(dataDir, s.buildId)).toEqual([
      '2',
      'got a.tgz: first',
      'got b.tgz: second',
    ]);
    const { lines } = await readLog(dataDir, s.buildId, 0, 1 << 20);
    expect(lines.map((l) => l.text)).toContain(`==> input build.dist ${'e'.repeat(64)} (2 files)`);
  });
});
