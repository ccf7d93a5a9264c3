import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { git, makeRepo, tempDirs } from './helpers.js';

/**
 * The start-early fetch of an announced version is handed to git before `prefetch` returns (the
 * server writes the event to its inbox synchronously right after), and git's own maintenance of
 * the mirror runs after a quiet period instead of inside every fetch.
 */
const tmp = tempDirs();
afterEach(() => tmp.cleanup());

function counted(): { runGit: GitRunner; calls: string[][] } {
  const calls: string[][] = [];
  const runGit: GitRunner = (args, o) => {
    calls.push([...args]);
    return spawnGit(args, o);
  };
  return { runGit, calls };
}

const fetches = (calls: readonly string[][]): number =>
  calls.filter((c) => c.includes('fetch')).length;

function packs(mirror: string): number {
  return readdirSync(join(mirror, 'objects', 'pack')).filter((f) => f.endsWith('.pack')).length;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}

describe('the start-early fetch', () => {
  it('starts before prefetch returns, and the build finds the commit it brought', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { runGit, calls } = counted();
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
    await mirrors.ensureCommit(repo, c1!);
    const [c2] = makeRepo(repo, [{ 'a.txt': '2\n' }]);
    const before = fetches(calls);

    mirrors.prefetch(repo, c2!);
    // Synchronously: no stat, lock or file read was awaited before handing the fetch over.
    expect(fetches(calls)).toBe(before + 1);
    expect(calls.at(-1)).toContain('--no-auto-maintenance');
    expect(await mirrors.ensureCommit(repo, c2!)).toEqual({
      mirror: mirrors.mirrorDir(repo),
      commit: c2,
    });
    // The build's question joined the fetch in flight instead of fetching again.
    expect(fetches(calls)).toBe(before + 1);
  });

  it('a commit that exists nowhere is found missing, and a build of it fails naming it', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { runGit, calls } = counted();
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
    await mirrors.ensureCommit(repo, c1!);
    const bogus = 'e'.repeat(40);

    mirrors.prefetch(repo, bogus);
    expect(calls.at(-1)).toContain('fetch');
    // The ancestry question waits for the round, then takes its "not found" as the answer.
    await expect(mirrors.relation(repo, bogus, c1!)).rejects.toThrow(
      `commit ${bogus} not found in ${repo}`,
    );
    expect(mirrors.knownRelation(repo, bogus, c1!)?.relation).toBe('unknown');
    await expect(mirrors.ensureCommit(repo, bogus)).rejects.toThrow('not found');
  });

  it('a mirror removed since it was seen is cloned again for the announced commit', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'));
    await mirrors.ensureCommit(repo, c1!);
    await rm(mirrors.mirrorDir(repo), { recursive: true, force: true });
    const [c2] = makeRepo(repo, [{ 'a.txt': '2\n' }]);

    mirrors.prefetch(repo, c2!);
    expect((await mirrors.ensureCommit(repo, c2!)).commit).toBe(c2);
    expect(await mirrors.relation(repo, c2!, c1!)).toBe('descendant');
  });
});

describe("git's maintenance of a mirror", () => {
  it('runs after the fetches, not inside them: packs pile up, then are packed once quiet', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { runGit, calls } = counted();
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), {
      runGit,
      maintenance: { quietMs: 3_000, maxWaitMs: 60_000 },
    });
    await mirrors.ensureCommit(repo, c1!);
    const mirror = mirrors.mirrorDir(repo);
    // Every fetch keeps its pack; `gc --auto` (in the foreground) packs once there are over 2.
    git(repo, '--git-dir', mirror, 'config', 'fetch.unpackLimit', '1');
    git(repo, '--git-dir', mirror, 'config', 'gc.autoPackLimit', '2');
    git(repo, '--git-dir', mirror, 'config', 'gc.autoDetach', 'false');

    for (let i = 2; i <= 4; i++) {
      const [c] = makeRepo(repo, [{ 'a.txt': `${i}\n` }]);
      mirrors.prefetch(repo, c!);
      await mirrors.ensureCommit(repo, c!);
    }
    // Three fetches, each its own pack, none packed by the fetch itself.
    expect(packs(mirror)).toBe(3);
    expect(mirrors.maintenancePending(repo)).toBe(true);
    expect(calls.some((c) => c.includes('maintenance'))).toBe(false);

    expect(await until(() => packs(mirror) === 1, 20_000)).toBe(true);
    expect(calls.filter((c) => c.includes('maintenance'))).toHaveLength(1);
    expect(mirrors.maintenancePending(repo)).toBe(false);
  });

  it('a busy mirror still gets it after maxWaitMs; stopMaintenance cancels what is armed', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { runGit, calls } = counted();
    const timing = { quietMs: 1_000, maxWaitMs: 1_500 };
    const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit, maintenance: timing });
    await mirrors.ensureCommit(repo, c1!);
    const maintained = (): number => calls.filter((c) => c.includes('maintenance')).length;
    expect(maintained()).toBe(0);

    // A fetch every ~100 ms keeps the mirror from ever being quiet for a second.
    const start = Date.now();
    for (let i = 0; Date.now() - start < 6_000 && maintained() === 0 && i < 100; i++) {
      await mirrors.fetchOrigin(repo);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(maintained()).toBe(1);

    await mirrors.fetchOrigin(repo);
    expect(mirrors.maintenancePending(repo)).toBe(true);
    await mirrors.close();
    await mirrors.close();
    expect(mirrors.maintenancePending(repo)).toBe(false);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(maintained()).toBe(1);
  });
});
