import { lstat, readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { RemoteHead } from './remote-heads.js';
import { isFullSha } from '../../core/git-sha.js';

/**
 * The branch heads of a repository on this machine's disk, read from its files: what
 * `git ls-remote --heads PATH` answers, without the three processes it takes (git, the `sh` it
 * runs `git-upload-pack` with, and upload-pack itself). For 1,000 sources on 1,000 local
 * repositories that is most of the idle server's CPU (bench/RESULTS.md, "Ingest", (3b)).
 *
 * Only for the layout git's own "files" ref backend writes, owned by this user: anything else
 * (a `.git` file, a linked worktree, reftable or any other `extensions`, `hideRefs` in the
 * repository's config, a symbolic ref under `refs/heads/`, a line it cannot parse, another owner,
 * whom git's `safe.directory` rules would judge) answers `null`, and the caller asks git
 * (`advertised-refs.ts`). `file://` URLs are never read here: they are how a user asks for the
 * remote protocol (upload-pack, its `hideRefs`) on a local repository.
 *
 * Loose refs are read before `packed-refs`, and a loose ref wins, as git does: `git pack-refs`
 * writes `packed-refs` before it deletes the loose files, so a ref being packed meanwhile is
 * found in one or the other. The answer is a snapshot, like ls-remote's.
 */
export async function readLocalHeads(url: string, timeoutMs: number): Promise<RemoteHead[] | null> {
  if (!isAbsolute(url)) return null;
  let timer: NodeJS.Timeout | undefined;
  // A hung file system (NFS) must not hold the check forever, as a hung remote would not.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`reading the refs of ${url} timed out after ${timeoutMs} ms`)),
      Math.min(timeoutMs, 2 ** 31 - 1),
    );
  });
  try {
    return await Promise.race([read(url), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function read(url: string): Promise<RemoteHead[] | null> {
  try {
    const repo = await findGitDir(url);
    if (repo === null) return null;
    const loose = new Map<string, string>();
    if (!(await readLoose(join(repo.dir, 'refs', 'heads'), '', loose))) return null;
    const packed = repo.packed
      ? await readPacked(join(repo.dir, 'packed-refs'))
      : new Map<string, string>();
    if (packed === null) return null;
    for (const [ref, sha] of loose) packed.set(ref, sha);
    return [...packed].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ref, sha]) => ({ ref, sha }));
  } catch {
    return null; // unreadable in some way git may still understand (or explain)
  }
}

const uid = typeof process.getuid === 'function' ? process.getuid() : -1;

/**
 * A bare repository at `path`, or the `.git` directory of a working tree (git's order); `null`
 * otherwise. `packed`: it has a `packed-refs` file. One `readdir` per directory looked at.
 */
async function findGitDir(path: string): Promise<{ dir: string; packed: boolean } | null> {
  let dir = path;
  let entries = await readdir(dir, { withFileTypes: true });
  const dotGit = entries.find((e) => e.name === '.git');
  if (dotGit !== undefined) {
    if (!dotGit.isDirectory()) return null; // a gitfile: a linked worktree or a submodule
    dir = join(path, '.git');
    entries = await readdir(dir, { withFileTypes: true });
  }
  const kind = new Map(entries.map((e) => [e.name, e]));
  if (kind.get('HEAD')?.isFile() !== true || kind.get('refs')?.isDirectory() !== true) return null;
  // A linked worktree keeps its refs elsewhere.
  if (kind.has('commondir')) return null;
  if ((await lstat(dir)).uid !== uid) return null;
  const config = await readFile(join(dir, 'config'), 'utf8');
  // reftable (and any other extension) is git's to read; `transfer.hideRefs` /
  // `uploadpack.hideRefs` hide refs from upload-pack, so its answer differs.
  if (/^\s*\[\s*extensions\b|hiderefs/im.test(config)) return null;
  const packed = kind.get('packed-refs');
  if (packed !== undefined && !packed.isFile()) return null;
  return { dir, packed: packed !== undefined };
}

/** Loose refs under `dir` into `out` (`prefix` = the branch path so far); `false`: ask git. */
async function readLoose(dir: string, prefix: string, out: Map<string, string>): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    },
  );
  for (const e of entries) {
    const name = `${prefix}${e.name}`;
    if (e.isDirectory()) {
      if (!(await readLoose(join(dir, e.name), `${name}/`, out))) return false;
      continue;
    }
    // git's lock files and editors' leftovers are not refs; a symlink or a symbolic ref is git's.
    if (e.name.endsWith('.lock') || e.name.startsWith('.')) continue;
    if (!e.isFile()) return false;
    const text = await readFile(join(dir, e.name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null; // packed or deleted meanwhile: packed-refs decides
      throw err;
    });
    if (text === null) continue;
    const sha = text.trim();
    if (!isFullSha(sha)) return false;
    out.set(name, sha);
  }
  return true;
}

/** The `refs/heads/` lines of `packed-refs` (none when it does not exist); `null`: ask git. */
async function readPacked(file: string): Promise<Map<string, string> | null> {
  const heads = new Map<string, string>();
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const space = line.indexOf(' ');
    const sha = line.slice(0, space);
    const ref = line.slice(space + 1);
    if (space < 0 || !isFullSha(sha) || ref.includes(' ')) return null;
    if (ref.startsWith('refs/heads/')) heads.set(ref.slice('refs/heads/'.length), sha);
  }
  return heads;
}
