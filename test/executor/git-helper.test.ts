import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultHelperScript, GitHelper } from '../../src/executor/git-helper.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { git, makeRepo, tempDirs } from './helpers.js';

const tmp = tempDirs();
let helper: GitHelper | null = null;
afterEach(async () => {
  helper?.stop();
  helper = null;
  await tmp.cleanup();
});

function start(fallback?: GitRunner): GitHelper {
  const script = defaultHelperScript(true);
  if (script === null) throw new Error('no git helper script beside src/executor/git-helper.ts');
  helper = new GitHelper(script, fallback);
  return helper;
}

/** A git command that runs until killed: an alias to a shell `sleep`. */
const HANG = ['-c', 'alias.hang=!sleep 8', 'hang'];

describe('GitHelper (git spawned from a helper process)', () => {
  it('answers like spawnGit: output, exit codes, stderr', async () => {
    const run = start().run;
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const ok = await run(['-C', repo, 'rev-parse', 'HEAD'], { timeoutMs: 30_000 });
    expect(ok).toMatchObject({ exitCode: 0, timedOut: false });
    expect(ok.stdout.trim()).toBe(c1);
    const bad = await run(['-C', repo, 'rev-parse', '--verify', 'nope'], { timeoutMs: 30_000 });
    const direct = await spawnGit(['-C', repo, 'rev-parse', '--verify', 'nope'], {
      timeoutMs: 30_000,
    });
    expect(bad.exitCode).toBe(direct.exitCode);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toBe(direct.stderr);
  });

  it('enforces the timeout and obeys an abort (the git process group is killed)', async () => {
    const run = start().run;
    const t0 = Date.now();
    const timedOut = await run(HANG, { timeoutMs: 300 });
    expect(timedOut).toMatchObject({ exitCode: null, timedOut: true });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const aborted = await run(HANG, { timeoutMs: 30_000, signal: abort.signal });
    expect(aborted).toMatchObject({ exitCode: null, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a helper that dies fails its running command clearly, and the next one starts a new helper', async () => {
    const h = start();
    await h.run(['--version'], { timeoutMs: 30_000 }); // the helper is up
    const pending = h.run(HANG, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 200));
    const child = (h as unknown as { child: { pid: number } | null }).child;
    expect(child).not.toBeNull();
    process.kill(child!.pid, 'SIGKILL');
    const r = await pending;
    expect(r.exitCode).toBeNull();
    expect(r.stderr).toMatch(/git helper process exited/);
    const again = await h.run(['--version'], { timeoutMs: 30_000 });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^git version/);
  });

  it('after repeated deaths, and once stopped, git is spawned directly', async () => {
    const direct: string[][] = [];
    const h = start((args, o) => {
      direct.push([...args]);
      return spawnGit(args, o);
    });
    for (let i = 0; i < 3; i++) {
      // Up and listening (a helper killed before that counts as one that cannot start).
      expect((await h.run(['--version'], { timeoutMs: 30_000 })).exitCode).toBe(0);
      const pending = h.run(HANG, { timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 300));
      const child = (h as unknown as { child: { pid: number } | null }).child;
      if (child) process.kill(child.pid, 'SIGKILL');
      await pending;
    }
    expect((await h.run(['--version'], { timeoutMs: 30_000 })).exitCode).toBe(0);
    expect(direct).toEqual([['--version']]);
    h.stop();
  });

  it('a helper that cannot start (it dies before listening) costs nothing: git runs directly', async () => {
    const broken = join(await tmp.make(), 'broken-helper.mjs');
    await writeFile(broken, "throw new Error('cannot start here');\n");
    const direct: string[][] = [];
    helper = new GitHelper({ script: broken, execArgv: [] }, (args, o) => {
      direct.push([...args]);
      return spawnGit(args, o);
    });
    const first = await helper.run(['--version'], { timeoutMs: 30_000 });
    expect(first.exitCode).toBe(0);
    expect((await helper.run(['--version'], { timeoutMs: 30_000 })).exitCode).toBe(0);
    expect(direct).toEqual([['--version'], ['--version']]);
  });

  it('fetches and checks out through the mirrors', async () => {
    const run = start().run;
    const repo = await tmp.make();
    const [, c2] = makeRepo(repo, [{ 'a.txt': '1\n' }, { 'a.txt': '2\n' }]);
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit: run });
    const { mirror, commit } = await mirrors.ensureCommit(repo, c2!);
    const dest = join(await tmp.make(), 'tree');
    await mirrors.checkout(mirror, commit, dest, repo);
    expect(git(dest, 'rev-parse', 'HEAD')).toBe(c2);
  });
});
