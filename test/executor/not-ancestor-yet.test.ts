import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { git, makeRepo, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/** Real git, with every `fetch` held until the test opens the gate. */
function gatedFetches() {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const calls: string[][] = [];
  const runGit: GitRunner = async (args, o) => {
    calls.push([...args]);
    if (args.includes('fetch')) await gate;
    return spawnGit(args, o);
  };
  return {
    calls,
    runGit,
    open: () => open(),
    close: (): void => {
      gate = new Promise<void>((r) => (open = r));
    },
  };
}

describe('GitMirrors.notAncestorYet (while the start-early fetch runs)', () => {
  it('a pushed commit the mirror lacks is not an ancestor of a head it has; one it holds is not shown', async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': '1\n' }, { 'a.txt': '2\n' }]);
    const g = gatedFetches();
    g.open();
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit: g.runGit });
    await mirrors.ensureCommit(repo, c2!); // the mirror holds c1 and c2; c2 is the head
    g.close();

    const [c3] = makeRepo(repo, [{ 'a.txt': '3\n' }]);
    mirrors.prefetch(repo, c3!);
    const before = g.calls.length;
    expect(await mirrors.notAncestorYet(repo, c3!, c2!)).toBe(true);
    // Read from the mirror's files: no git process while the fetch runs (the round's fetch is
    // the only one started).
    expect(g.calls.slice(before).filter((c) => !c.includes('fetch'))).toEqual([]);
    // c1 (a late delivery, packed away) is in the mirror: maybe an ancestor, so not shown.
    git(join(mirrors.mirrorDir(repo)), 'gc', '--quiet');
    mirrors.prefetch(repo, c1!);
    expect(await mirrors.notAncestorYet(repo, c1!, c2!)).toBe(false);
    // A head the mirror does not have proves nothing.
    expect(await mirrors.notAncestorYet(repo, c3!, 'e'.repeat(40))).toBe(false);
    g.open();
    await mirrors.ensureCommit(repo, c3!);
    // Fetched: no round runs for it any more, the exact answer is at hand.
    expect(await mirrors.notAncestorYet(repo, c3!, c2!)).toBe(false);
    expect(await mirrors.relation(repo, c3!, c2!)).toBe('descendant');
  });

  it('a head still being fetched itself (a burst of pushes) is not shown, without a git run', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const g = gatedFetches();
    const revParses: string[] = [];
    const runGit: GitRunner = (args, o) => {
      if (args.includes('rev-parse')) revParses.push(args.join(' '));
      return g.runGit(args, o);
    };
    g.open();
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
    await mirrors.ensureCommit(repo, c1!);
    g.close();

    const [c2, c3] = makeRepo(repo, [{ 'a.txt': '2\n' }, { 'a.txt': '3\n' }]);
    mirrors.prefetch(repo, c2!); // now the head, its fetch held
    mirrors.prefetch(repo, c3!);
    revParses.length = 0;
    expect(await mirrors.notAncestorYet(repo, c3!, c2!)).toBe(false);
    expect(revParses).toEqual([]);
    g.open();
    // Not shown early, so the scheduler asks once the fetches end: the exact answer.
    expect(await mirrors.relation(repo, c3!, c2!)).toBe('descendant');
  });
});
