import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { countedMirrors, makeRepo, tempDirs } from './helpers.js';

/**
 * Versions whose commit exists nowhere (a forge announcing commits it never had, a bench, a
 * typo in a generic hook): the scheduler's ancestry question must not cost git processes per
 * event, while a build of such a commit still fetches and reports it.
 */
const tmp = tempDirs();
afterEach(() => tmp.cleanup());

const counted = () => countedMirrors(tmp);

async function quiet(calls: readonly unknown[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let seen = -1; seen !== calls.length && Date.now() < deadline;) {
    seen = calls.length;
    await new Promise((r) => setTimeout(r, 300));
  }
}

const bogus = (i: number): string => i.toString(16).padStart(40, 'e');

/**
 * When each round began: a round's first process is its fetch of the branches (then one by id;
 * how long the first takes varies too much under load to time rounds by the second).
 */
const roundStarts = (calls: ReadonlyArray<{ at: number; args: string[] }>): number[] =>
  calls.filter((c) => c.args[2] === 'fetch' && c.args.includes('--prune')).map((c) => c.at);

/** A repository with one commit, its mirror, and every git run of that mirror's, timed. */
async function timedMirror() {
  const repo = await tmp.make();
  const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
  const calls: Array<{ at: number; args: string[] }> = [];
  const runGit: GitRunner = (args, o) => {
    calls.push({ at: Date.now(), args: [...args] });
    return spawnGit(args, o);
  };
  const mirrors = new GitMirrors(join(await tmp.make(), 'git'), { runGit });
  await mirrors.ensureCommit(repo, c1!);
  return { repo, c1: c1!, mirrors, calls };
}

describe('commits that exist nowhere', () => {
  it('a storm of them costs a few git processes per round, and the questions none', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { mirrors, calls } = await counted();
    await mirrors.ensureCommit(repo, c1!);
    // As the server does: every accepted event is prefetched, then the scheduler asks about
    // each version against the previous one (the head it just moved).
    for (let i = 0; i < 300; i++) mirrors.prefetch(repo, bogus(i));
    const before = calls.length;
    const answers: string[] = [];
    for (let i = 1; i < 300; i++)
      answers.push(
        await mirrors.relation(repo, bogus(i), bogus(i - 1)).then(String, (e: Error) => e.message),
      );
    await quiet(calls);
    expect(answers.every((a) => /not found in/.test(a))).toBe(true);
    // What the scheduler reads inside its slice, without waiting: known to be unknown.
    expect(mirrors.knownRelation(repo, bogus(299), bogus(298))?.relation).toBe('unknown');
    expect(mirrors.knownRelation(repo, c1!, c1!)).toBeNull();
    // Was ~6 per event (rev-parse, fetch, fetch by id, for head and version): 1,800 here.
    expect(calls.length - before).toBeLessThanOrEqual(20);
  });

  it('a round for one of them runs its two fetches and no other git', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { mirrors, calls } = await counted();
    await mirrors.ensureCommit(repo, c1!);
    const before = calls.length;
    mirrors.prefetch(repo, bogus(7));
    await quiet(calls);
    // The branches, then the id; that neither brought it is read off the object store (was: a
    // `rev-parse` after each fetch and a `rev-list` for the round, five processes).
    expect(calls.slice(before).map((c) => c[2])).toEqual(['fetch', 'fetch']);
    expect(mirrors.knownRelation(repo, bogus(7), c1!)?.relation).toBe('unknown');
  });

  it('a question about a missing head is answered from the last fetch, a build fetches again', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { mirrors, calls } = await counted();
    await expect(mirrors.relation(repo, c1!, bogus(1))).rejects.toThrow(/not found/);
    const afterFirst = calls.length;
    for (let i = 0; i < 50; i++)
      await expect(mirrors.relation(repo, c1!, bogus(1))).rejects.toThrow(/fetch \d+ s ago/);
    expect(calls.length).toBe(afterFirst);
    // The build path does not trust that answer: it fetches (and still does not find it).
    await expect(mirrors.ensureCommit(repo, bogus(1))).rejects.toThrow(/not found/);
    expect(calls.filter((c) => c.includes('fetch')).length).toBeGreaterThan(
      calls.slice(0, afterFirst).filter((c) => c.includes('fetch')).length,
    );
  });

  it('while pushes of them keep coming, rounds start 250 ms apart, then further up to 1 s', async () => {
    const { repo, mirrors, calls } = await timedMirror();
    const before = calls.length;
    // One push every 5 ms for 1.2 s, as a webhook storm for commits the remote lacks brings.
    const start = Date.now();
    for (let i = 0; Date.now() - start < 1_200 && i < 1_000; i++) {
      mirrors.prefetch(repo, bogus(i));
      await new Promise((r) => setTimeout(r, 5));
    }
    await quiet(calls);
    // Each round fetches once (back to back, a round every ~20 ms: ~60 of them). None finds
    // anything, so each waits twice as long as the last: 250, 500, 1000 ms.
    const rounds = roundStarts(calls.slice(before));
    expect(rounds.length).toBeGreaterThanOrEqual(3);
    expect(rounds.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < rounds.length; i++)
      expect(rounds[i]! - rounds[i - 1]!).toBeGreaterThanOrEqual(
        Math.min(250 * 2 ** (i - 1), 1000) - 50,
      );
  });

  it('a round that finds a commit in such a storm brings the 250 ms gap back', async () => {
    const { repo, c1, mirrors, calls } = await timedMirror();
    const [c2] = makeRepo(repo, [{ 'a.txt': '2\n' }]);
    const before = calls.length;
    // Missing commits for 2.6 s, rounds at ~0, 250, 750 and 1750 ms; the real one in between.
    const start = Date.now();
    let announced = false;
    for (let i = 0; Date.now() - start < 2_600 && i < 2_000; i++) {
      if (!announced && Date.now() - start > 1_200) {
        mirrors.prefetch(repo, c2!);
        announced = true;
      }
      mirrors.prefetch(repo, bogus(i));
      await new Promise((r) => setTimeout(r, 5));
    }
    await quiet(calls);
    const rounds = roundStarts(calls.slice(before));
    const gaps = rounds.slice(1).map((at, i) => at - rounds[i]!);
    // 250, 500, 1000 ms after rounds that found nothing (a round's fetch starts a little after
    // the round); the round that found c2 is followed ~250 ms after it started.
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(gaps.slice(0, 3).every((g, i) => g >= 250 * 2 ** i - 50)).toBe(true);
    expect(gaps[3]).toBeLessThan(600);
    expect(await mirrors.relation(repo, c2!, c1)).toBe('descendant');
  });

  it('a real commit announced in the same storm is found and answered', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { mirrors } = await counted();
    await mirrors.ensureCommit(repo, c1!);
    const [c2, c3] = makeRepo(repo, [{ 'a.txt': '2\n' }, { 'a.txt': '3\n' }]);
    mirrors.prefetch(repo, bogus(1));
    mirrors.prefetch(repo, c2!);
    for (let i = 2; i < 50; i++) mirrors.prefetch(repo, bogus(i));
    mirrors.prefetch(repo, c3!);
    // c2 was coalesced into a round whose newest is c3: still sorted as found.
    expect(await mirrors.relation(repo, c2!, c1!)).toBe('descendant');
    expect(await mirrors.relation(repo, c2!, c3!)).toBe('ancestor');
  });

  it('an unreachable remote: one clone attempt per round, the questions answered from it', async () => {
    const { mirrors, calls } = await counted();
    const url = 'http://127.0.0.1:9/nowhere.git'; // discard port: connection refused
    for (let i = 0; i < 100; i++) mirrors.prefetch(url, bogus(i));
    await quiet(calls);
    const before = calls.length;
    for (let i = 1; i < 100; i++)
      await expect(mirrors.relation(url, bogus(i), bogus(i - 1))).rejects.toThrow(/clone/);
    expect(calls.length).toBe(before);
    expect(before).toBeLessThanOrEqual(4);
  });
});
