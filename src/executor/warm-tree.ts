import { lstat, mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXCLUDES, INDEX_V2, remoteConfig } from './workspace-git-files.js';
import type { RunTicket } from '../spawn/process-helper.js';
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
 * the earlier build is left. Its `.git` is first reset to a fresh checkout's (`sanitize`): the
 * earlier build's steps could have changed anything there. Resolves `false` when `dest` is not a
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

/**
 * The second half of `updateTree`, on a tree `prepareTree` accepted: `checkout --force`; with
 * `after`, once that run (the fetch bringing the commit) has succeeded. `false` when it failed
 * or never started.
 */
export async function moveTree(
  g: TreeGit,
  opts: { commit: string; dest: string; signal: AbortSignal; after?: RunTicket },
): Promise<boolean> {
  const args = ['-C', opts.dest, ...SAFE, ...INDEX_V2, '-c', 'advice.detachedHead=false'];
  args.push('checkout', '--quiet', '--force', '--detach', opts.commit, '--');
  const { after, signal } = opts;
  const timeoutMs = g.localTimeoutMs;
  const co = await g.runGit(args, after ? { timeoutMs, signal, after } : { timeoutMs, signal });
  if (co.exitCode === 0) return true;
  if (opts.signal.aborted) throw new Error('cancelled during checkout');
  return false;
}

/**
 * A passing build's tree as it is parked: its `.git` reset as `updateTree` resets it, then
 * `clean -ffdx` (untracked and ignored files go), so the next build only needs `checkout
 * --force`. `false` when it is not a git tree, has submodules set up, or git fails.
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

/**
 * Resets a tree's `.git` to what a fresh checkout has (`freshCheckout`), keeping only the
 * alternates link and the index, whose stat cache is what lets the checkout rewrite only the
 * files that changed. Whatever else a step left there could change what the next build checks
 * out or sees, so it goes: hooks and config (commands git would run), replace refs and grafts
 * (another commit's tree checked out under this one's id), `info/attributes` (files converted
 * on the way out), the tree's own objects (read before the mirror's and never checked against
 * their ids), a merge or rebase in progress, branches, reflogs, a shallow list. A tree with
 * submodules set up (`.git/modules`) is not reset but refused (`false`). An index of
 * version 3 or 4 goes too: only those hold skip-worktree entries (what `git sparse-checkout`
 * leaves), which `checkout --force` never writes again; without an index `clean -ffdx` removes
 * every file and the checkout writes them all, as into an empty directory.
 */
async function sanitize(gitDir: string, remote: string): Promise<boolean> {
  const objects = join(gitDir, 'objects');
  const info = join(objects, 'info');
  try {
    // Each step's file operations at once: one after the other they were ~50 round trips to
    // libuv's threads, 7–13 ms on the path from a push to its build (bench/RESULTS.md, "Latency").
    const [dirs, modules, index] = await allOrThrow([
      allOrThrow([gitDir, objects, info].map((dir) => lstat(dir))),
      lstat(join(gitDir, 'modules')).catch(() => null),
      indexVersion(join(gitDir, 'index')),
    ] as const);
    // A step may have put a link there: never clear what it points to.
    if (!dirs.every((d) => d.isDirectory())) return false;
    // Submodules a step set up live in `.git/modules`, their trees point there: a fresh
    // checkout has neither, and one without the other is a broken submodule. Start afresh.
    if (modules !== null) return false;
    await allOrThrow([
      removeAllBut(gitDir, index === 2 ? ['objects', 'index'] : ['objects']),
      removeAllBut(objects, ['info']),
      removeAllBut(info, ['alternates']),
    ]);
    await allOrThrow([
      mkdir(join(objects, 'pack')),
      mkdir(join(gitDir, 'refs', 'heads'), { recursive: true }).then(() =>
        mkdir(join(gitDir, 'refs', 'tags')),
      ),
      mkdir(join(gitDir, 'info')).then(() => writeFile(join(gitDir, 'info', 'exclude'), EXCLUDES)),
      // Unborn, as after `git init`: the checkout that follows detaches it at the new commit.
      writeFile(join(gitDir, 'HEAD'), 'ref: refs/heads/master\n'),
      writeFile(join(gitDir, 'config'), `${REPO_CONFIG}${remote}`),
    ]);
    return true;
  } catch {
    return false;
  }
}

async function removeAllBut(dir: string, keep: readonly string[]): Promise<void> {
  const entries = (await readdir(dir)).filter((entry) => !keep.includes(entry));
  await allOrThrow(entries.map((entry) => rm(join(dir, entry), { recursive: true, force: true })));
}

/**
 * `Promise.all` that settles every promise before it throws: a failed reset hands the tree to
 * `emptyDir` and a fresh checkout, which must not meet removals still running.
 */
async function allOrThrow<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/** The index file's format version (`DIRC`, then a 32-bit version); `null` when unreadable. */
async function indexVersion(path: string): Promise<number | null> {
  const file = await open(path, 'r').catch(() => null);
  if (file === null) return null;
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await file.read(head, 0, 8, 0);
    return bytesRead === 8 && head.toString('latin1', 0, 4) === 'DIRC'
      ? head.readUInt32BE(4)
      : null;
  } finally {
    await file.close();
  }
}
