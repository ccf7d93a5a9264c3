import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

const FULL_SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A commit object is a few hundred bytes; anything bigger is left to git. */
const MAX_BYTES = 64 * 1024;

/**
 * The parents of commit `sha` when it is a loose object of the bare repository `gitDir`, read
 * without spawning git (a small fetch stores its objects loose: `fetch.unpackLimit`). `null`
 * when it is not loose (packed, absent), not a commit, or cannot be read: ask git then.
 */
export async function looseCommitParents(gitDir: string, sha: string): Promise<string[] | null> {
  if (!FULL_SHA_RE.test(sha)) return null;
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
