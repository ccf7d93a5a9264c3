import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { looseCommitParents, looseDescends } from '../../src/executor/loose-object.js';
import { git, makeRepo, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

describe('looseCommitParents', () => {
  it("reads a loose commit's parents as git does; packed, non-commit and absent objects are null", async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': '1\n' }, { 'a.txt': '2\n' }]);
    git(repo, 'checkout', '--quiet', '-b', 'side', c1!);
    const [s1] = makeRepo(repo, [{ 'b.txt': 'side\n' }]);
    git(repo, 'checkout', '--quiet', 'main');
    git(repo, 'merge', '--quiet', '--no-edit', 'side');
    const merge = git(repo, 'rev-parse', 'HEAD');
    const gitDir = join(repo, '.git');
    expect(await looseCommitParents(gitDir, c1!)).toEqual([]);
    expect(await looseCommitParents(gitDir, c2!)).toEqual([c1]);
    expect(await looseCommitParents(gitDir, merge)).toEqual(
      git(repo, 'rev-parse', 'HEAD^1', 'HEAD^2').split('\n'),
    );
    expect(await looseCommitParents(gitDir, merge)).toContain(s1);
    const tree = git(repo, 'rev-parse', 'HEAD^{tree}');
    expect(await looseCommitParents(gitDir, tree)).toBeNull();
    expect(await looseCommitParents(gitDir, '0'.repeat(40))).toBeNull();
    expect(await looseCommitParents(gitDir, c2!.slice(0, 12))).toBeNull();
    git(repo, 'gc', '--quiet', '--prune=now');
    expect(await looseCommitParents(gitDir, c2!)).toBeNull();
  });
});

describe('looseDescends', () => {
  it('finds the head a few loose commits back, through merges; packed history and strangers are "not shown"', async () => {
    const repo = await tmp.make();
    const [c1, c2, c3, c4] = makeRepo(repo, [
      { 'a.txt': '1\n' },
      { 'a.txt': '2\n' },
      { 'a.txt': '3\n' },
      { 'a.txt': '4\n' },
    ]);
    git(repo, 'checkout', '--quiet', '-b', 'side', c2!);
    const [s1] = makeRepo(repo, [{ 'b.txt': 'side\n' }]);
    git(repo, 'checkout', '--quiet', 'main');
    git(repo, 'merge', '--quiet', '--no-edit', 'side');
    const merge = git(repo, 'rev-parse', 'HEAD');
    const gitDir = join(repo, '.git');
    expect(await looseDescends(gitDir, c4!, c3!)).toBe(true);
    expect(await looseDescends(gitDir, c4!, c1!)).toBe(true);
    // Through the merge's second parent.
    expect(await looseDescends(gitDir, merge, s1!)).toBe(true);
    // Never the other way round, and not a commit off the history.
    expect(await looseDescends(gitDir, c1!, c4!)).toBe(false);
    expect(await looseDescends(gitDir, c4!, s1!)).toBe(false);
    expect(await looseDescends(gitDir, c4!, '0'.repeat(40))).toBe(false);
    git(repo, 'gc', '--quiet', '--prune=now');
    // Packed: git has to answer.
    expect(await looseDescends(gitDir, c4!, c3!)).toBe(false);
  });
});

describe('GitMirrors.relation of a push of several commits', () => {
  it('is told a fast-forward from the fetched loose commits, without merge-base', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const calls: string[][] = [];
    const runGit: GitRunner = (args, o) => {
      calls.push([...args]);
      return spawnGit(args, o);
    };
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
    await mirrors.ensureCommit(repo, c1!);
    const pushed = makeRepo(repo, [{ 'a.txt': '2\n' }, { 'a.txt': '3\n' }, { 'b.txt': '4\n' }]);
    const tip = pushed[pushed.length - 1]!;
    expect(await mirrors.relation(repo, tip, c1!)).toBe('descendant');
    expect(calls.some((c) => c.includes('merge-base'))).toBe(false);
    // The other way round still asks git, and is right.
    expect(await mirrors.relation(repo, c1!, tip)).toBe('ancestor');
    expect(calls.some((c) => c.includes('merge-base'))).toBe(true);
  });
});

describe('GitMirrors.prefetch', () => {
  it('coalesces a burst of announced versions into a bounded number of fetches', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const calls: string[][] = [];
    let running = 0;
    const runGit: GitRunner = async (args, o) => {
      calls.push([...args]);
      running++;
      try {
        return await spawnGit(args, o);
      } finally {
        running--;
      }
    };
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
    await mirrors.ensureCommit(repo, c1!);
    // 200 versions nobody pushed (a storm of bogus or fast-moving events) and one real one.
    const [c2] = makeRepo(repo, [{ 'a.txt': '2\n' }]);
    for (let i = 0; i < 200; i++) mirrors.prefetch(repo, i.toString(16).padStart(40, 'f'));
    mirrors.prefetch(repo, c2!);
    // Until no git runs and none started for half a second (bounded; a loaded machine's fetch
    // can take longer than that).
    const deadline = Date.now() + 20_000;
    for (let seen = -1; (seen !== calls.length || running > 0) && Date.now() < deadline;) {
      seen = calls.length;
      await new Promise((r) => setTimeout(r, 500));
    }
    // First bogus version: fetch + fetch by id; then the newest (c2): one fetch at most.
    expect(calls.filter((c) => c.includes('fetch')).length).toBeLessThanOrEqual(4);
    const before = calls.length;
    expect((await mirrors.ensureCommit(repo, c2!)).commit).toBe(c2);
    expect(calls.length).toBe(before); // known now: no git at all
  });
});
