import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import type { JobDef } from '../../src/core/pipeline.js';
import { gitInput, job, makeRepo, observer, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
/** Stopped before their directories go: a parked tree's deferred clean would race the removal. */
const executors: LocalExecutor[] = [];
afterEach(async () => {
  for (const ex of executors.splice(0)) await ex.stop();
  await tmp.cleanup();
});
const never = new AbortController().signal;

/** An executor whose git runs are recorded (and see `env` too). */
async function setup(
  env: Record<string, string> = {},
): Promise<{ ex: LocalExecutor; dataDir: string; calls: string[][] }> {
  const dataDir = await tmp.make();
  const calls: string[][] = [];
  const runGit: GitRunner = (args, o) => {
    calls.push([...args]);
    return spawnGit(args, { ...o, env: { ...o.env, ...env } });
  };
  const mirrors = new GitMirrors(join(dataDir, 'git'), { runGit });
  const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), mirrors });
  executors.push(ex);
  return { ex, dataDir, calls };
}

async function lines(dataDir: string, buildId: number, stream = 'stdout'): Promise<string[]> {
  const { lines: all } = await readLog(dataDir, buildId, 0, 1 << 20);
  return all.filter((l) => l.stream === stream).map((l) => l.text);
}

const inits = (calls: string[][]): number => calls.filter((c) => c[0] === 'init').length;

/** Leaves every kind of debris a build can leave: edits, untracked and ignored files, a hook. */
const mess = (marks: string): string =>
  [
    'echo edited >> a.txt',
    'echo junk > untracked.txt',
    'mkdir -p build && echo obj > build/out.o',
    `mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch ${marks}/hook-ran\\n' > .git/hooks/post-checkout`,
    'chmod +x .git/hooks/post-checkout',
    `git config core.fsmonitor 'touch ${marks}/fsmonitor-ran; false'`,
  ].join('; ');
const SHOW = 'cat a.txt; ls -A | grep -v "^\\.git$" | tr "\\n" " "; echo; git status --porcelain';

describe('warm workspaces', () => {
  it("a passing build's tree is moved to the next commit: nothing of the last build stays, no hook runs", async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [
      { 'a.txt': 'one\n', '.gitignore': 'build/\n' },
      { 'a.txt': 'two\n' },
    ]);
    const { ex, dataDir, calls } = await setup();
    const marks = await tmp.make();
    const j = job([step('mess', `${SHOW}; ${mess(marks)}`)]);
    const s1 = spec(j, { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    expect(existsSync(ex.workspaces.pathOf(s1.buildId))).toBe(false);
    expect(existsSync(ex.workspaces.warmPathOf('build'))).toBe(true);

    const s2 = spec(j, { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    // The new commit's content, only tracked files (the inputs file is nightless's own), clean.
    expect(await lines(dataDir, s2.buildId)).toEqual([
      'two',
      '.gitignore a.txt nightless-inputs.json ',
    ]);
    const system = await lines(dataDir, s2.buildId, 'system');
    expect(system.some((l) => l.endsWith('(warm workspace)'))).toBe(true);
    expect(inits(calls)).toBe(1);
    expect(existsSync(join(marks, 'hook-ran'))).toBe(false);
    expect(existsSync(join(marks, 'fsmonitor-ran'))).toBe(false);
  });

  it('a server stopping right after a build: the deferred clean never starts, the tree stays for the next process', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': 'one\n' }]);
    const { ex, calls } = await setup();
    const s1 = spec(job([step('show', SHOW)]), { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    expect(await ex.stop()).toBe(0);
    const atStop = calls.length;
    // Past the clean's delay: before, it ran (its git refused once the mirrors closed) and the
    // tree was removed while the server had already stopped.
    await sleep(600);
    expect(calls.length).toBe(atStop);
    expect(calls.some((c) => c.includes('clean'))).toBe(false);
    expect(existsSync(ex.workspaces.warmPathOf('build'))).toBe(true);
  });

  it("a failed build's tree is never reused: the next build starts from a new checkout", async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': 'one\n' }, { 'a.txt': 'two\n' }]);
    const { ex, dataDir, calls } = await setup();
    const failing = job([step('fail', 'echo junk > untracked.txt; exit 3')]);
    const s1 = spec(failing, { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('failed');
    // Kept for inspection, not parked.
    expect(existsSync(join(ex.workspaces.pathOf(s1.buildId), 'untracked.txt'))).toBe(true);
    expect(existsSync(ex.workspaces.warmPathOf('build'))).toBe(false);

    const s2 = spec(job([step('show', SHOW)]), { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s2.buildId)).toEqual(['two', 'a.txt nightless-inputs.json ']);
    expect(inits(calls)).toBe(2);
  });

  it('`workspace: fresh` checks out into an empty directory every time and drops a warm tree', async () => {
    const repo = await tmp.make();
    const [c1, c2, c3] = makeRepo(repo, [
      { 'a.txt': '1\n' },
      { 'a.txt': '2\n' },
      { 'a.txt': '3\n' },
    ]);
    const { ex, dataDir, calls } = await setup();
    const warmJob = job([step('junk', 'echo junk > untracked.txt')]);
    await ex.run(spec(warmJob, { inputs: [gitInput('app', repo, c1!)] }), observer(), never);
    expect(existsSync(ex.workspaces.warmPathOf('build'))).toBe(true);
    const fresh: JobDef = { ...job([step('show', SHOW)]), workspace: 'fresh' };
    for (const c of [c2!, c3!]) {
      const s = spec(fresh, { inputs: [gitInput('app', repo, c)] });
      expect((await ex.run(s, observer(), never)).state).toBe('passed');
      expect((await lines(dataDir, s.buildId))[1]).toBe('a.txt nightless-inputs.json ');
    }
    expect(inits(calls)).toBe(3);
    expect(existsSync(ex.workspaces.warmPathOf('build'))).toBe(false);
  });

  it('several git inputs: each tree moved to its commit, anything else at the top removed', async () => {
    const a = await tmp.make();
    const b = await tmp.make();
    const [a1, a2] = makeRepo(a, [{ 'a.txt': 'a1\n' }, { 'a.txt': 'a2\n' }]);
    const [b1, b2] = makeRepo(b, [{ 'b.txt': 'b1\n' }, { 'b.txt': 'b2\n' }]);
    const { ex, dataDir, calls } = await setup();
    const j = job([
      step(
        'show',
        'cat app/a.txt lib/b.txt; ls -A | tr "\\n" " "; echo; echo x > top.txt; echo y > app/y',
      ),
    ]);
    const s1 = spec(j, { inputs: [gitInput('app', a, a1!), gitInput('lib', b, b1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    const s2 = spec(j, { inputs: [gitInput('app', a, a2!), gitInput('lib', b, b2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s2.buildId)).toEqual([
      'a2',
      'b2',
      'app lib nightless-inputs.json ',
    ]);
    expect(inits(calls)).toBe(2);
  });

  it('a tree not scrubbed at parking is cleaned while the commit is fetched: once it lands, one checkout', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': 'one\n', '.gitignore': 'build/\n' }]);
    const { ex: first, dataDir } = await setup();
    const s1 = spec(job([step('pass', 'true')]), { inputs: [gitInput('app', repo, c1!)] });
    expect((await first.run(s1, observer(), never)).state).toBe('passed');
    const warm = first.workspaces.warmPathOf('build');
    // Its background clean over, the server stops, and debris appears before the next start (as
    // a server stopped between parking and cleaning leaves it): nothing says the tree is clean.
    await sleep(600);
    await first.mirrors.close();
    await mkdir(join(warm, 'build'), { recursive: true });
    await writeFile(join(warm, 'build', 'out.o'), 'o\n');
    await writeFile(join(warm, 'untracked.txt'), 'junk\n');
    const calls: string[][] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const runGit: GitRunner = async (args, o) => {
      calls.push([...args]);
      if (args.includes('fetch')) await gate;
      return spawnGit(args, o);
    };
    const mirrors = new GitMirrors(join(dataDir, 'git'), { runGit });
    const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), mirrors });
    executors.push(ex);
    expect(existsSync(join(warm, 'untracked.txt'))).toBe(true);
    const [c2] = makeRepo(repo, [{ 'a.txt': 'two\n' }]);
    const s2 = spec(job([step('show', SHOW)]), { inputs: [gitInput('app', repo, c2!)] });
    const done = ex.run(s2, observer(), never);
    const inTree = (): string[] =>
      calls
        .filter((c) => c[0] === '-C')
        .map((c) => c.find((a) => a === 'clean' || a === 'checkout') ?? '?');
    // The fetch is held: the tree's clean has run all the same, the checkout waits for the commit.
    const junk = join(ex.workspaces.pathOf(s2.buildId), 'untracked.txt');
    for (let i = 0; i < 300 && (existsSync(warm) || existsSync(junk)); i++) await sleep(10);
    expect(existsSync(junk)).toBe(false);
    expect(existsSync(join(ex.workspaces.pathOf(s2.buildId), 'build'))).toBe(false);
    expect(inTree()).toEqual(['clean']);
    open();
    expect((await done).state).toBe('passed');
    expect(inTree()).toEqual(['clean', 'checkout']);
    expect(await lines(dataDir, s2.buildId)).toEqual([
      'two',
      '.gitignore a.txt nightless-inputs.json ',
    ]);
    expect(calls.filter((c) => c[0] === 'init')).toEqual([]);
  });

  it('what a step leaves in .git never reaches the next build: replace refs, attributes, planted objects, a merge, branches', async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [
      { 'a.txt': 'one\n', 'b.txt': 'same\n' },
      { 'a.txt': 'two\n' },
    ]);
    const { ex, dataDir, calls } = await setup();
    const git = 'git -c user.name=n -c user.email=n@example.com';
    const damage = [
      // Another tree checked out under c2's id, were the replace ref honoured.
      `T=$(echo evil > z.txt && git add z.txt && git write-tree) && E=$(${git} commit-tree -m evil $T)`,
      `mkdir -p .git/refs/replace && echo $E > .git/refs/replace/${c2!}`,
      // A loose object named as c2's a.txt but holding other bytes: read before the mirror's.
      'B=$(echo two | git hash-object --stdin) && P=$(echo planted | git hash-object -w --stdin)',
      'mkdir -p .git/objects/${B%${B#??}} && cp .git/objects/${P%${P#??}}/${P#??} .git/objects/${B%${B#??}}/${B#??}',
      "printf 'a.txt working-tree-encoding=UTF-16\\n' > .git/info/attributes",
      `echo ${c1!} > .git/MERGE_HEAD`,
      'git branch leftover',
    ].join(' && ');
    const show =
      'cat a.txt b.txt; ls -A | grep -v "^\\.git$" | tr "\\n" " "; echo; git status --porcelain; git rev-parse -q --verify MERGE_HEAD || echo no merge; git for-each-ref refs/heads | wc -l';
    const j = job([step('damage', `${show}; ${damage}`)]);
    const s1 = spec(j, { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    const s2 = spec(j, { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s2.buildId)).toEqual([
      'two',
      'same',
      'a.txt b.txt nightless-inputs.json ',
      'no merge',
      '0',
    ]);
    expect(
      (await lines(dataDir, s2.buildId, 'system')).some((l) => l.endsWith('(warm workspace)')),
    ).toBe(true);
    expect(inits(calls)).toBe(1);
  });

  it('a sparse checkout left behind: the next build still gets every file of its commit', async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [
      { 'a.txt': 'one\n', 'b.txt': 'same\n', 'c.txt': 'c\n' },
      { 'a.txt': 'two\n' },
    ]);
    const { ex, dataDir } = await setup();
    const show = 'cat a.txt b.txt c.txt; git status --porcelain';
    // Edits b.txt too: marked skip-worktree, checkout would never write it again.
    const sparse =
      "git sparse-checkout set --no-cone /a.txt && echo edited > b.txt && ls -A | tr '\\n' ' '";
    const s1 = spec(job([step('sparse', sparse)]), { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s1.buildId)).toEqual(['.git a.txt b.txt nightless-inputs.json ']);
    const s2 = spec(job([step('show', show)]), { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s2.buildId)).toEqual(['two', 'same', 'c']);
  });

  it('a .git that a step turned into a link: the next build checks out afresh and leaves what it points to alone', async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': 'one\n' }, { 'a.txt': 'two\n' }]);
    const { ex, dataDir, calls } = await setup();
    const elsewhere = join(await tmp.make(), 'git');
    const link = `git config nightless.mark kept && mv .git ${elsewhere} && ln -s ${elsewhere} .git`;
    const s1 = spec(job([step('link', link)]), { inputs: [gitInput('app', repo, c1!)] });
    expect((await ex.run(s1, observer(), never)).state).toBe('passed');
    const s2 = spec(job([step('show', SHOW)]), { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await lines(dataDir, s2.buildId)).toEqual(['two', 'a.txt nightless-inputs.json ']);
    expect(inits(calls)).toBe(2);
    expect(await readFile(join(elsewhere, 'config'), 'utf8')).toContain('mark = kept');
  });

  it('submodules a step set up: the next build starts from a new checkout and can set them up again', async () => {
    const sub = await tmp.make();
    makeRepo(sub, [{ 's.txt': 'in the submodule\n' }]);
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': 'one\n' }]);
    const allow = '-c protocol.file.allow=always';
    const who = '-c user.name=n -c user.email=n@example.com';
    execFileSync(
      'sh',
      ['-c', `git ${allow} submodule add -q "$1" sub && git ${who} commit -qm sub`, 'sh', sub],
      {
        cwd: repo,
      },
    );
    const c2 = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const { ex, dataDir, calls } = await setup();
    const j = job([step('sub', `git ${allow} submodule update -q --init && cat sub/s.txt`)]);
    for (const c of [c2, c2]) {
      const s = spec(j, { inputs: [gitInput('app', repo, c)] });
      expect((await ex.run(s, observer(), never)).state).toBe('passed');
      expect(await lines(dataDir, s.buildId)).toEqual(['in the submodule']);
    }
    expect(c1).not.toBe(c2);
    expect(inits(calls)).toBe(2);
  });

  it("files a commit did not change are not written again, even where the user's git config asks for index version 4", async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [
      { 'a.txt': 'one\n', 'b.txt': 'same\n' },
      { 'a.txt': 'two\n' },
    ]);
    const config = join(await tmp.make(), 'gitconfig');
    await writeFile(config, '[feature]\n\tmanyFiles = true\n');
    const { ex, dataDir } = await setup({ GIT_CONFIG_GLOBAL: config });
    const j = job([step('mtime', 'stat -c %y b.txt')]);
    const mtimes: string[][] = [];
    for (const c of [c1!, c2!]) {
      const s = spec(j, { inputs: [gitInput('app', repo, c)] });
      expect((await ex.run(s, observer(), never)).state).toBe('passed');
      mtimes.push(await lines(dataDir, s.buildId));
    }
    expect(mtimes[1]).toEqual(mtimes[0]);
  });
});
