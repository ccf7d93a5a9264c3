import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_NETWORK_LIMITS } from '../../src/core/pipeline.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { git, makeRepo, pidGone, tempDirs } from './helpers.js';

/**
 * After a fetch of a mirror, the next one is started ahead (`git fetch --stdin`, waiting on its
 * stdin), so the next push's fetch skips git's start-up (bench/RESULTS.md, "Latency").
 */
const tmp = tempDirs();
const open: GitMirrors[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
  await tmp.cleanup();
});

const fast = { delayMs: 30, idleMs: 60_000, max: 4 };

async function mirrorsFor(arming = fast): Promise<GitMirrors> {
  const m = new GitMirrors(join(await tmp.make(), 'git'), { arming });
  open.push(m);
  return m;
}

/** Live `git … fetch … --stdin` processes of `mirror`: its armed fetches. */
function armedPids(mirror: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    if (argv.includes(mirror) && argv.includes('--stdin') && !pidGone(pid)) pids.push(pid);
  }
  return pids;
}

/** Waits (bounded: 5 s) until `mirror` has exactly `n` armed fetches; returns their pids. */
function armed(mirror: string, n: number): Promise<number[]> {
  return vi.waitFor(
    () => {
      const pids = armedPids(mirror);
      if (pids.length !== n) throw new Error(`${pids.length} armed fetches of ${mirror}, not ${n}`);
      return pids;
    },
    { timeout: 5000, interval: 20 },
  );
}

/**
 * Asserts, within 5 s, that `pid` has ended. An armed git discarded on the way (not by `close`)
 * is killed by the spawn helper while the fetch goes on; while it exits its command line already
 * reads empty (so `armed` no longer counts it) before it is a zombie.
 */
async function expectGone(pid: number): Promise<void> {
  await vi.waitFor(() => expect(pidGone(pid)).toBe(true), { timeout: 5000, interval: 20 });
}

/** A repository with one commit, its mirror cloned and fetched once (so armed). */
async function fetchedOnce(
  mirrors: GitMirrors,
): Promise<{ repo: string; mirror: string; pid: number }> {
  const repo = await tmp.make();
  const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
  await mirrors.ensureCommit(repo, c1!);
  const mirror = mirrors.mirrorDir(repo);
  expect(armedPids(mirror)).toEqual([]); // a clone arms nothing
  const [c2] = makeRepo(repo, [{ 'a.txt': '2\n' }]);
  expect(await mirrors.ensureCommit(repo, c2!)).toEqual({ mirror, commit: c2 });
  const [pid] = await armed(mirror, 1);
  return { repo, mirror, pid: pid! };
}

describe('armed branch fetches', () => {
  it('the next push is fetched by the git armed after the last fetch, then another is armed', async () => {
    const mirrors = await mirrorsFor();
    const { repo, mirror, pid } = await fetchedOnce(mirrors);
    const [c3] = makeRepo(repo, [{ 'b.txt': '3\n' }]);
    // An announced version: the start-early path, as a webhook takes it.
    expect(await mirrors.ensureCommit(repo, c3!, undefined, true)).toEqual({ mirror, commit: c3 });
    expect(pidGone(pid)).toBe(true); // it ran the fetch and exited
    const [next] = await armed(mirror, 1);
    expect(next).not.toBe(pid);
    // The fetch pruned and updated branches as a fresh `fetch --prune origin` does.
    git(repo, 'branch', 'gone');
    git(repo, 'branch', 'kept');
    const [c4] = makeRepo(repo, [{ 'b.txt': '4\n' }]);
    await mirrors.ensureCommit(repo, c4!, undefined, true);
    await armed(mirror, 1);
    git(repo, 'branch', '-D', 'gone');
    const [c5] = makeRepo(repo, [{ 'b.txt': '5\n' }]);
    await mirrors.ensureCommit(repo, c5!, undefined, true);
    const branches = git(mirror, 'for-each-ref', '--format=%(refname:short)', 'refs/heads');
    expect(branches.split('\n').sort()).toEqual(['kept', 'main']);
    expect(git(mirror, 'rev-parse', 'main')).toBe(c5);
  });

  it('an armed git that died is passed over: the fetch starts afresh and finds the commit', async () => {
    const mirrors = await mirrorsFor();
    const { repo, mirror, pid } = await fetchedOnce(mirrors);
    process.kill(pid, 'SIGKILL');
    await armed(mirror, 0);
    const [c3] = makeRepo(repo, [{ 'b.txt': '3\n' }]);
    expect(await mirrors.ensureCommit(repo, c3!, undefined, true)).toEqual({ mirror, commit: c3 });
    await armed(mirror, 1);
  });

  it('new network limits: the git armed with the old ones is ended, not used', async () => {
    const mirrors = await mirrorsFor();
    const { repo, mirror, pid } = await fetchedOnce(mirrors);
    mirrors.setNetworkLimits({ ...DEFAULT_NETWORK_LIMITS, stallTimeoutMs: 45_000 });
    const [c3] = makeRepo(repo, [{ 'b.txt': '3\n' }]);
    expect(await mirrors.ensureCommit(repo, c3!, undefined, true)).toEqual({ mirror, commit: c3 });
    await expectGone(pid);
  });

  it('close also waits for an armed git discarded just before it', async () => {
    const mirrors = await mirrorsFor();
    const { mirror, pid } = await fetchedOnce(mirrors);
    mirrors.fetches.armed.drop(mirror); // the mirror removed: its armed git ended, not awaited
    expect(await mirrors.close()).toBe(0);
    expect(pidGone(pid)).toBe(true);
  });

  it("an armed fetch's failure is reported as any fetch's: which remote, what git said", async () => {
    const mirrors = await mirrorsFor();
    const { repo } = await fetchedOnce(mirrors);
    renameSync(repo, `${repo}.moved`);
    await expect(mirrors.ensureCommit(repo, 'f'.repeat(40), undefined, true)).rejects.toThrow(
      new RegExp(`fetch.*${repo}`, 's'),
    );
    renameSync(`${repo}.moved`, repo);
  });

  it('at most `max` armed: the mirror fetched longest ago gives its up; idle ones end', async () => {
    const mirrors = await mirrorsFor({ delayMs: 30, idleMs: 1500, max: 1 });
    const one = await fetchedOnce(mirrors);
    const two = await fetchedOnce(mirrors);
    await armed(one.mirror, 0);
    await expectGone(one.pid);
    expect(mirrors.fetches.armed.size).toBe(1);
    // Not taken within `idleMs`: ended.
    await armed(two.mirror, 0);
    expect(mirrors.fetches.armed.size).toBe(0);
  });

  it('close ends every armed git, returning once they have ended, and arms no more', async () => {
    const mirrors = await mirrorsFor();
    const { mirror, pid } = await fetchedOnce(mirrors);
    expect(await mirrors.close()).toBe(0);
    expect(pidGone(pid)).toBe(true);
    expect(armedPids(mirror)).toEqual([]);
    mirrors.fetches.armed.fetched(mirror);
    await new Promise((r) => setTimeout(r, 200));
    expect(armedPids(mirror)).toEqual([]);
  });
});
