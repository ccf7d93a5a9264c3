import type { CommitMemory } from './commit-memory.js';
import type { GitRunResult } from './git-runner.js';
import { looseDescends } from './loose-object.js';
import { RunError } from './run-error.js';

/** What the ancestry questions need of the mirrors (`GitMirrors`). */
export interface RelationMirrors {
  readonly memory: CommitMemory;
  readonly localTimeoutMs: number;
  mirrorDir(url: string): string;
  ensureCommit(
    url: string,
    sha: string,
    signal?: AbortSignal,
  ): Promise<{ mirror: string; commit: string }>;
  git(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GitRunResult>;
}

/** What they need of the start-early rounds (`PrefetchRounds`). */
export interface RelationRounds {
  has(mirror: string, sha: string): boolean;
  settled(mirror: string, sha: string): Promise<void>;
}

export interface KnownRelation {
  readonly relation: 'unknown';
  readonly head: string;
  readonly reason: string;
}

/**
 * What `relationIn` would answer without git or waiting: `unknown` when a recent fetch did not
 * find either commit (the build fetches again and reports it), else `null` (ask `relationIn`).
 */
export function knownRelationIn(
  m: RelationMirrors,
  rounds: RelationRounds,
  url: string,
  version: string,
  head: string,
): KnownRelation | null {
  const mirror = m.mirrorDir(url);
  for (const sha of [head, version]) {
    const missing = m.memory.missingSince(mirror, sha);
    if (missing && !rounds.has(mirror, sha)) {
      const ago = Math.round((Date.now() - missing.at) / 1000);
      return { relation: 'unknown', head, reason: `${missing.reason} (fetch ${ago} s ago)` };
    }
  }
  return null;
}

/**
 * How `version` relates to `head` in `url`'s history (`git merge-base` on the mirror,
 * fetching either commit when missing): `ancestor` — `head` already contains it;
 * `descendant` — a fast-forward from `head`; `unrelated` — neither (a force push). Throws
 * `RunError` when a commit cannot be found or git fails.
 */
export async function relationIn(
  m: RelationMirrors,
  rounds: RelationRounds,
  url: string,
  version: string,
  head: string,
  signal?: AbortSignal,
): Promise<'ancestor' | 'descendant' | 'unrelated'> {
  const mirror = m.mirrorDir(url);
  // The start-early round fetching either commit answers for it: wait for it, then take a
  // recent "not found" as the answer instead of fetching again (the build will, and report).
  await rounds.settled(mirror, head);
  await rounds.settled(mirror, version);
  const known = knownRelationIn(m, rounds, url, version, head);
  if (known) throw new RunError('checkout', known.reason);
  const h = await m.ensureCommit(url, head, signal);
  const v = await m.ensureCommit(url, version, signal);
  // The common push, a few commits on top of the head, is answered by reading those commits
  // (loose objects the fetch just wrote) instead of spawning `merge-base`.
  if (await looseDescends(h.mirror, v.commit, h.commit)) return 'descendant';
  // One `merge-base` answers both questions: it is `version` itself exactly when `version` is
  // an ancestor of `head`, and `head` exactly when `head` is an ancestor of `version`.
  const r = await m.git(
    ['--git-dir', h.mirror, 'merge-base', v.commit, h.commit],
    m.localTimeoutMs,
    signal,
  );
  const base = r.stdout.trim();
  if (r.exitCode === 1 && base === '') return 'unrelated'; // no common history at all
  if (r.exitCode !== 0)
    throw new RunError(
      'checkout',
      `git merge-base in the mirror of ${url} failed: ${
        r.timedOut ? 'timed out' : lastLine(r.stderr) || `exit code ${r.exitCode ?? 'none'}`
      }`,
    );
  if (base === v.commit) return 'ancestor';
  return base === h.commit ? 'descendant' : 'unrelated';
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}
