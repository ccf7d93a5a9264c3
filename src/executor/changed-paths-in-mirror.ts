import type { GitRunResult } from './git-runner.js';

const SHA_RE = /^[0-9a-f]{7,64}$/i;

/** What the paths question needs of the mirrors (`GitMirrors`). */
export interface PathMirrors {
  readonly localTimeoutMs: number;
  ensureCommit(
    url: string,
    sha: string,
    signal?: AbortSignal,
  ): Promise<{ mirror: string; commit: string }>;
  resolveCommit(mirror: string, sha: string, signal?: AbortSignal): Promise<string | null>;
  git(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GitRunResult>;
}

/**
 * Paths that differ between two commits of `url`, fetching them into the mirror as needed (so
 * the build that follows finds them there). `from` `null` (a new branch): the paths `to`
 * changed against its first parent (every path of a root commit). `null` when it can't tell:
 * `from` is gone (a force push), or the list is too long to capture whole. Paths are git's
 * `-z` output, never parsed by a shell.
 */
export async function changedPathsIn(
  m: PathMirrors,
  url: string,
  from: string | null,
  to: string,
  signal?: AbortSignal,
): Promise<string[] | null> {
  const { mirror, commit } = await m.ensureCommit(url, to, signal);
  let base: string | null;
  if (from === null) {
    base = await m.resolveCommit(mirror, `${commit}^`, signal);
    if (base === null) {
      // A root commit: everything in it is new.
      const r = await m.git(
        [
          '--git-dir',
          mirror,
          'diff-tree',
          '-r',
          '--root',
          '--no-commit-id',
          '--name-only',
          '-z',
          commit,
          '--',
        ],
        m.localTimeoutMs,
        signal,
      );
      return pathList(r);
    }
  } else {
    if (!SHA_RE.test(from)) return null;
    base = await m.resolveCommit(mirror, from, signal);
    if (base === null) return null;
  }
  const r = await m.git(
    ['--git-dir', mirror, 'diff', '--name-only', '-z', '--no-renames', base, commit, '--'],
    m.localTimeoutMs,
    signal,
  );
  return pathList(r);
}

/** `-z` name output → paths; `null` when git failed or the output was cut at the capture limit. */
function pathList(r: GitRunResult): string[] | null {
  if (r.exitCode !== 0 || r.stdout.length >= 60 * 1024) return null;
  return r.stdout.split('\0').filter((p) => p !== '');
}
