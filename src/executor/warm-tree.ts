import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXCLUDES, remoteConfig } from './workspace-git-files.js';
import type { GitRunner } from './git-runner.js';

/** The git runner and local timeout of the mirrors the trees borrow objects from. */
export interface TreeGit {
  readonly runGit: GitRunner;
  readonly localTimeoutMs: number;
}

/** What `git init` writes on Linux; a warm tree's config is reset to it. */
const REPO_CONFIG =
  '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n';
/** Git runs no hook and no fsmonitor command of a tree an earlier build's steps could edit. */
const SAFE = ['-c', 'core.hooksPath=/dev/null', '-c', 'core.fsmonitor=false'];

/**
 * Moves a checkout made earlier (a warm workspace) to `commit`: `clean -ffdx` unless the tree
 * was scrubbed when it was parked, then `checkout --force` — so nothing untracked or modified of
 * the earlier build is left. Its `.git/config`, `info/exclude` and hooks are rewritten first:
 * the earlier build's steps could have changed them. Resolves `false` when `dest` is not a
 * checkout borrowing `mirror`'s objects or git fails on it (the caller then starts from an empty
 * directory); rejects only when aborted.
 */
export async function updateTree(
  g: TreeGit,
  opts: {
    mirror: string;
    commit: string;
    dest: string;
    url: string;
    clean: boolean;
    signal: AbortSignal;
  },
): Promise<boolean> {
  return (await prepareTree(g, opts)) && moveTree(g, opts);
}

/**
 * The first half of `updateTree`, which needs no commit: whether `dest` is a checkout borrowing
 * `mirror`'s objects, its git files rewritten and `clean -ffdx` run (unless `clean` is false:
 * scrubbed when parked). Done while the commit is still being fetched, so that once it has
 * landed only the checkout is left. Cleaning before the checkout leaves the same tree as after
 * it: the clean removes everything the old index does not track, and `checkout --force` then
 * replaces every tracked file, removing those the new commit lacks. Never rejects.
 */
export async function prepareTree(
  g: TreeGit,
  opts: { mirror: string; dest: string; url: string; clean: boolean; signal: AbortSignal },
): Promise<boolean> {
  const gitDir = join(opts.dest, '.git');
  const alternates = await readFile(join(gitDir, 'objects', 'info', 'alternates'), 'utf8').catch(
    () => null,
  );
  if (alternates !== `${join(opts.mirror, 'objects')}\n`) return false;
  // A scrubbed tree was sanitized and cleaned when it was parked, and nothing ran in it since.
  if (!opts.clean) return true;
  if (!(await sanitize(gitDir, remoteConfig(opts.url)))) return false;
  const r = await g
    .runGit(['-C', opts.dest, ...SAFE, 'clean', '-ffdxq'], {
      timeoutMs: g.localTimeoutMs,
      signal: opts.signal,
    })
    .catch(() => null);
  return r?.exitCode === 0;
}

/** The second half of `updateTree`, on a tree `prepareTree` accepted: `checkout --force`. */
export async function moveTree(
  g: TreeGit,
  opts: { commit: string; dest: string; signal: AbortSignal },
): Promise<boolean> {
  const args = ['-C', opts.dest, ...SAFE, '-c', 'advice.detachedHead=false'];
  args.push('checkout', '--quiet', '--force', '--detach', opts.commit, '--');
  const co = await g.runGit(args, { timeoutMs: g.localTimeoutMs, signal: opts.signal });
  if (co.exitCode === 0) return true;
  if (opts.signal.aborted) throw new Error('cancelled during checkout');
  return false;
}

/**
 * A passing build's tree as it is parked: its git files rewritten as `updateTree` does, then
 * `clean -ffdx` (untracked and ignored files go), so the next build only needs `checkout --force`. `false` when it is not a git tree or git fails.
 */
export async function scrubTree(g: TreeGit, dest: string, url: string): Promise<boolean> {
  const gitDir = join(dest, '.git');
  const ok = await readFile(join(gitDir, 'objects', 'info', 'alternates'), 'utf8').then(
    () => true,
    () => false,
  );
  if (!ok) return false;
  if (!(await sanitize(gitDir, remoteConfig(url)))) return false;
  const r = await g.runGit(['-C', dest, ...SAFE, 'clean', '-ffdxq'], {
    timeoutMs: g.localTimeoutMs,
  });
  return r.exitCode === 0;
}

async function sanitize(gitDir: string, remote: string): Promise<boolean> {
  try {
    await rm(join(gitDir, 'hooks'), { recursive: true, force: true });
    await writeFile(join(gitDir, 'config'), `${REPO_CONFIG}${remote}`);
    await mkdir(join(gitDir, 'info'), { recursive: true });
    await writeFile(join(gitDir, 'info', 'exclude'), EXCLUDES);
    return true;
  } catch {
    return false;
  }
}
