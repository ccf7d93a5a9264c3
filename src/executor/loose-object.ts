import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { isFullSha } from '../core/git-sha.js';

/** A commit object is a few hundred bytes; anything bigger is left to git. */
const MAX_BYTES = 64 * 1024;

/**
 * The parents of commit `sha` when it is a loose object of the bare repository `gitDir`, read
 * without spawning git (a small fetch stores its objects loose: `fetch.unpackLimit`). `null`
 * when it is not loose (packed, absent), not a commit, or cannot be read: ask git then.
 */
export async function looseCommitParents(gitDir: string, sha: string): Promise<string[] | null> {
  if (!isFullSha(sha)) return null;
  try {
    const raw = await readFile(join(gitDir, 'objects', sha.slice(0, 2), sha.slice(2)));
    if (raw.length > MAX_BYTES) return null;
    const text = inflateSync(raw).toString('latin1');
    const nul = text.indexOf('\0');
    if (nul < 0 || !text.startsWith('commit ')) return null;
    const parents: string[] = [];
    // Headers end at the first empty line; `parent` lines follow `tree`.
    for (const line of text.slice(nul + 1).split('\n')) {
      if (line === '') break;
      if (line.startsWith('parent ')) parents.push(line.slice(7));
    }
    return parents;
  } catch {
    return null;
  }
}

/** Commits `looseDescends` reads at most (a push of more commits than this asks git). */
const MAX_LOOSE_WALK = 64;

/**
 * Whether `head` is reached from `sha` through loose commits only: the commits of a push that a
 * fetch just brought in are loose, so a push of a few commits on top of the head is told a
 * fast-forward without `git merge-base`. `false` means "not shown" (a packed commit on the way,
 * more than 64 commits, a root reached): ask git then.
 */
export async function looseDescends(gitDir: string, sha: string, head: string): Promise<boolean> {
  const seen = new Set<string>([sha]);
  let frontier = [sha];
  while (frontier.length > 0 && seen.size <= MAX_LOOSE_WALK) {
    const next: string[] = [];
    for (const c of frontier) {
      const parents = await looseCommitParents(gitDir, c);
      if (parents === null) continue;
      if (parents.includes(head)) return true;
      for (const p of parents) {
        if (!seen.has(p) && seen.size < MAX_LOOSE_WALK) {
          seen.add(p);
          next.push(p);
        }
      }
    }
    frontier = next;
  }
  return false;
}
