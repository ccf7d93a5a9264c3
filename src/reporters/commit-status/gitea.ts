import type { CommitStatus } from './status-of-build.js';
import type { RepoPath } from './repo-path.js';
import type { StatusRequest, StatusTarget } from './status-request.js';

/**
 * Gitea/Forgejo "Create a commit status": `POST {base}/api/v1/repos/{owner}/{repo}/statuses/{sha}`,
 * `Authorization: token …`. States: pending, success, error, failure, warning.
 */
export function giteaStatus(
  t: StatusTarget,
  repo: RepoPath,
  sha: string,
  s: CommitStatus,
): StatusRequest {
  const base = (t.baseUrl ?? repo.origin).replace(/\/+$/, '');
  const [owner, name] = repo.segments.slice(-2).map(encodeURIComponent);
  return {
    url: `${base}/api/v1/repos/${owner}/${name}/statuses/${sha}`,
    headers: { Authorization: `token ${t.token}` },
    body: {
      state: s.state === 'running' ? 'pending' : s.state === 'cancelled' ? 'error' : s.state,
      target_url: t.targetUrl,
      description: s.description,
      context: t.context,
    },
  };
}
