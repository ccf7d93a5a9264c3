import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stderrSummary } from '../core/command-stderr.js';
import type { GitRunResult } from './git-runner.js';
import { RunError } from './run-error.js';
import { EXCLUDES, INDEX_V2, remoteConfig } from './workspace-git-files.js';

/** What a checkout needs of the mirrors (`GitMirrors`). */
export interface CheckoutGit {
  readonly localTimeoutMs: number;
  git(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GitRunResult>;
}

/**
 * Checks `commit` out (detached) into `dest` (absent or empty). The checkout borrows the
 * mirror's objects through `objects/info/alternates` instead of copying them, and copies no
 * refs: `git init` + alternates + `checkout` measured faster than `clone --shared`, which copies
 * every ref of the mirror. `origin` is set to the original URL for tools that read it. Throws
 * `RunError('checkout')` naming the git command that failed.
 */
export async function freshCheckout(
  g: CheckoutGit,
  o: {
    mirror: string;
    commit: string;
    dest: string;
    url: string;
    signal?: AbortSignal | undefined;
  },
): Promise<void> {
  const expect = async (args: readonly string[], what: string): Promise<void> => {
    const r = await g.git(args, g.localTimeoutMs, o.signal);
    if (r.exitCode === 0) return;
    const detail = r.timedOut
      ? `timed out after ${Math.round(g.localTimeoutMs / 1000)}s`
      : stderrSummary(r.stderr) || `exit code ${r.exitCode ?? 'none'}`;
    throw new RunError('checkout', `git ${what} of ${o.url} failed: ${detail}`);
  };
  await mkdir(o.dest, { recursive: true });
  await expect(['init', '--quiet', '--template=', o.dest], 'init');
  const gitDir = join(o.dest, '.git');
  await mkdir(join(gitDir, 'objects', 'info'), { recursive: true });
  await writeFile(join(gitDir, 'objects', 'info', 'alternates'), `${join(o.mirror, 'objects')}\n`);
  await mkdir(join(gitDir, 'info'), { recursive: true });
  await appendFile(join(gitDir, 'info', 'exclude'), EXCLUDES);
  const inRepo = ['-C', o.dest, ...INDEX_V2, '-c', 'advice.detachedHead=false'];
  await expect([...inRepo, 'checkout', '--quiet', '--detach', o.commit, '--'], 'checkout');
  // What `git remote add origin <url>` writes, without spawning another git (~10-20 % of a
  // warm checkout's time).
  await appendFile(join(gitDir, 'config'), remoteConfig(o.url));
}
