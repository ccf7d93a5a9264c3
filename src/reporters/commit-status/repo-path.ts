/** Where a git remote lives: `https://host/a/b.git`, `ssh://git@host/a/b`, `git@host:a/b.git`. */
export interface RepoPath {
  /** `https://host[:port]`, the forge's web origin (the default API base of GitLab and Gitea). */
  readonly origin: string;
  /** Path segments without `.git`: `['team', 'app']`, or more for GitLab subgroups. */
  readonly segments: readonly string[];
}

/** `null` for local paths and URLs without at least `owner/repo`. */
export function parseRepoPath(url: string): RepoPath | null {
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(url);
  let host: string;
  let path: string;
  if (scp && !/^[a-z]+:\/\//i.test(url)) {
    host = scp[1] ?? '';
    path = scp[2] ?? '';
  } else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return null;
    }
    if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol) || u.hostname === '') return null;
    host = u.protocol === 'http:' || u.protocol === 'https:' ? u.host : u.hostname;
    path = u.pathname;
  }
  const segments = path
    .replace(/\.git\/?$/, '')
    .split('/')
    .filter((s) => s !== '');
  if (segments.length < 2) return null;
  const scheme = url.startsWith('http://') ? 'http' : 'https';
  return { origin: `${scheme}://${host}`, segments: segments.map(decodeURIComponent) };
}
