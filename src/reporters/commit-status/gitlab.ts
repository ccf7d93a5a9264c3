import type { CommitStatus } from './status-of-build.js';
import type { RepoPath } from './repo-path.js';
import type { StatusRequest, StatusTarget } from './status-request.js';

const STATES = {
  pending: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failed',
  error: 'failed',
  cancelled: 'canceled',
} as const;

/**
 * GitLab "Set the pipeline status of a commit":
 * `POST {base}/api/v4/projects/{url-encoded path}/statuses/{sha}`, `PRIVATE-TOKEN` header.
 */
export function gitlabStatus(
  t: StatusTarget,
  repo: RepoPath,
  sha: string,
  s: CommitStatus,
): StatusRequest {
  const base = (t.baseUrl ?? repo.origin).replace(/\/+$/, '');
  const project = encodeURIComponent(repo.segments.join('/'));
  return {
    url: `${base}/api/v4/projects/${project}/statuses/${sha}`,
    headers: { 'PRIVATE-TOKEN': t.token },
    body: {
      state: STATES[s.state],
      target_url: t.targetUrl,
      description: s.description,
      name: t.context,
    },
  };
}
