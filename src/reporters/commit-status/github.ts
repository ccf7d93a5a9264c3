import type { CommitStatus } from './status-of-build.js';
import type { RepoPath } from './repo-path.js';
import type { StatusRequest, StatusTarget } from './status-request.js';

/** GitHub "Create a commit status": `POST {base}/repos/{owner}/{repo}/statuses/{sha}`. */
export function githubStatus(
  t: StatusTarget,
  repo: RepoPath,
  sha: string,
  s: CommitStatus,
): StatusRequest {
  const base = (t.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const [owner, name] = repo.segments.slice(-2).map(encodeURIComponent);
  return {
    url: `${base}/repos/${owner}/${name}/statuses/${sha}`,
    headers: {
      Authorization: `Bearer ${t.token}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
    },
    body: {
      state: s.state === 'running' ? 'pending' : s.state === 'cancelled' ? 'error' : s.state,
      target_url: t.targetUrl,
      description: s.description,
      context: t.context,
    },
  };
}
