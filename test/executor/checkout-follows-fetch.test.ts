import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import { git, gitInput, job, makeRepo, observer, spec, step, tempDirs } from './helpers.js';

/**
 * A warm tree's checkout is handed to the spawn helper while the start-early fetch of its
 * commit still runs, to start the moment that git exits: no round trip through the server
 * between "fetched" and "checking out" (bench/RESULTS.md, "Latency").
 */
const tmp = tempDirs();
afterEach(() => tmp.cleanup());
const never = new AbortController().signal;

interface Call {
  readonly args: string[];
  readonly followed: boolean;
}

/** An executor with a parked warm tree of `repo`'s first commit, its git runs recorded. */
async function warmExecutor(
  repo: string,
): Promise<{ ex: LocalExecutor; calls: Call[]; dataDir: string }> {
  const dataDir = await tmp.make();
  const calls: Call[] = [];
  const runGit: GitRunner = (args, o) => {
    calls.push({ args: [...args], followed: o.after !== undefined });
    return spawnGit(args, o);
  };
  const mirrors = new GitMirrors(join(dataDir, 'git'), { runGit });
  const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), mirrors });
  const c1 = git(repo, 'rev-parse', 'HEAD');
  const s1 = spec(job([step('pass', 'true')]), { inputs: [gitInput('app', repo, c1)] });
  expect((await ex.run(s1, observer(), never)).state).toBe('passed');
  await sleep(600); // parked and scrubbed
  // A slow remote: the fetch still runs when the tree is ready for its checkout.
  const mirror = mirrors.mirrorDir(repo);
  git(mirror, 'config', 'remote.origin.uploadpack', 'sleep 0.5; git-upload-pack');
  calls.length = 0;
  return { ex, calls, dataDir };
}

const checkouts = (calls: readonly Call[]): Call[] =>
  calls.filter((c) => c.args[0] === '-C' && c.args.includes('checkout'));

async function stdout(dataDir: string, buildId: number): Promise<string[]> {
  const { lines } = await readLog(dataDir, buildId, 0, 1 << 20);
  return lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
}

describe('a warm checkout after the start-early fetch', () => {
  it('is handed over while the fetch runs and starts once it has landed: one checkout', async () => {
    const repo = await tmp.make();
    makeRepo(repo, [{ 'a.txt': 'one\n' }]);
    const { ex, calls, dataDir } = await warmExecutor(repo);
    const [c2] = makeRepo(repo, [{ 'a.txt': 'two\n' }]);
    ex.mirrors.prefetch(repo, c2!);
    const s2 = spec(job([step('show', 'cat a.txt')]), { inputs: [gitInput('app', repo, c2!)] });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await stdout(dataDir, s2.buildId)).toEqual(['two']);
    expect(checkouts(calls).map((c) => c.followed)).toEqual([true]);
    expect(calls.filter((c) => c.args.includes('fetch'))).toHaveLength(1);
  });

  it('a commit the branch fetch did not bring: the follower fails, the commit is fetched by id and checked out', async () => {
    const repo = await tmp.make();
    makeRepo(repo, [{ 'a.txt': 'one\n' }]);
    const { ex, calls, dataDir } = await warmExecutor(repo);
    // A commit on no branch (force-pushed away), which the remote still serves by id.
    git(repo, 'checkout', '--quiet', '-b', 'gone');
    const [orphan] = makeRepo(repo, [{ 'a.txt': 'by id\n' }]);
    git(repo, 'checkout', '--quiet', 'main');
    git(repo, 'branch', '--quiet', '-D', 'gone');
    git(repo, 'config', 'uploadpack.allowAnySHA1InWant', 'true');
    ex.mirrors.prefetch(repo, orphan!);
    const s2 = spec(job([step('show', 'cat a.txt')]), {
      inputs: [gitInput('app', repo, orphan!)],
    });
    expect((await ex.run(s2, observer(), never)).state).toBe('passed');
    expect(await stdout(dataDir, s2.buildId)).toEqual(['by id']);
    // The follower ran and failed (no such commit yet), then the usual checkout moved the tree.
    expect(checkouts(calls).map((c) => c.followed)).toEqual([true, false]);
    expect(calls.filter((c) => c.args.includes('init'))).toEqual([]);
  });
});
