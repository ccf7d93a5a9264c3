import { realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { boundedMemo } from '../../core/bounded-memo.js';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** git's rule: `[user@]host:path` is scp-like when a colon comes before any slash. */
const SCP_LIKE = /^(?:[^@/]+@)?([^/:]+):(?!\/\/)(.*)$/;

/**
 * One canonical key for every way a repository is written, so that a pipeline's
 * `git: git@github.com:Team/App.git` matches a payload's `https://github.com/team/app`.
 *
 * - remote (https, http, ssh, git://, scp-like `git@host:owner/repo.git`): `host/path`, without
 *   scheme, user, password, port, trailing `/` and `.git`, lower-cased. Ports are dropped because a
 *   forge's ssh URL often carries one (`ssh://git@host:2222/...`) and its https URL does not; case
 *   is dropped because GitHub, GitLab and Gitea treat owner and repository names
 *   case-insensitively and send their own canonical spelling, not the one in the pipeline file.
 * - local (a path, `file://`): `file:/absolute/path`, resolved against `cwd`, symlinks resolved
 *   when the path exists, a trailing `/.git` dropped (a working repository and its git dir are
 *   the same repository); case kept, since file systems differ.
 */
export function repoKey(url: string, cwd: string = process.cwd()): string {
  return remoteRepoKey(url) ?? localKey(url.trim(), cwd);
}

/**
 * {@link repoKey} of a remote URL, `null` for a local one. Remembered: every delivery of a forge
 * names the same few URLs (five in a GitHub push), and parsing them was ~2 % of the event loop at
 * 500 webhooks/s (bench/RESULTS.md, "Ingest"). A local key is not: it follows the file system.
 */
const remoteRepoKey = boundedMemo((url: string): string | null => {
  const s = url.trim();
  const scheme = SCHEME.exec(s)?.[1]?.toLowerCase();
  if (scheme === 'file') return null;
  if (scheme !== undefined) {
    try {
      const u = new URL(s);
      return remoteKey(u.hostname, decodeURIComponent(u.pathname));
    } catch {
      return remoteKey('', s.slice(s.indexOf('://') + 3));
    }
  }
  const scp = SCP_LIKE.exec(s);
  return scp && !isAbsolute(s) ? remoteKey(scp[1] ?? '', scp[2] ?? '') : null;
});

function remoteKey(host: string, path: string): string {
  const p = path
    .replace(/\/{2,}/g, '/')
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/i, '');
  return `${host.toLowerCase()}/${p}`.toLowerCase();
}

function localKey(pathOrFileUrl: string, cwd: string): string {
  const path = SCHEME.test(pathOrFileUrl)
    ? decodeURIComponent(new URL(pathOrFileUrl).pathname)
    : pathOrFileUrl;
  let abs = resolve(cwd, path);
  try {
    abs = realpathSync.native(abs);
  } catch {
    // Not (yet) there: the resolved path is the best key we have.
  }
  abs = abs.replace(/\/+$/, '').replace(/\/\.git$/, '');
  return `file:${abs || '/'}`;
}
