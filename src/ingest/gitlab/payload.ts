import { z } from 'zod';
import {
  PayloadError,
  changedPathsOf,
  describeIssues,
  isZeroSha,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

const commit = z.object({
  added: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
});

/**
 * The fields of a push or tag push event nightless reads (docs.gitlab.com, "Webhook events").
 * GitLab lists at most 20 commits; `total_commits_count` says how many the push had.
 */
const pushPayload = z.object({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string().min(1),
  before: z.string().optional(),
  after: z.string(),
  checkout_sha: z.string().nullable().optional(),
  total_commits_count: z.number().optional(),
  commits: z.array(commit).optional(),
  project: z
    .object({
      git_http_url: z.string().optional(),
      git_ssh_url: z.string().optional(),
      http_url: z.string().optional(),
      ssh_url: z.string().optional(),
      web_url: z.string().optional(),
    })
    .optional(),
  repository: z
    .object({
      git_http_url: z.string().optional(),
      git_ssh_url: z.string().optional(),
      url: z.string().optional(),
      homepage: z.string().optional(),
    })
    .optional(),
});

/**
 * GitLab does not say whether a push was forced, so `forced` is always `false` here; a deleted
 * branch is a push whose `after` is all zeros (and `checkout_sha` null).
 */
export function parseGitlabPush(body: unknown): WebhookParse {
  const res = pushPayload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`not a GitLab push payload: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  const deleted = isZeroSha(p.after);
  return {
    kind: 'versions',
    repoUrls: urlsOf(
      p.project?.git_http_url,
      p.project?.git_ssh_url,
      p.project?.http_url,
      p.project?.ssh_url,
      p.project?.web_url,
      p.repository?.git_http_url,
      p.repository?.git_ssh_url,
      p.repository?.url,
      p.repository?.homepage,
    ),
    updates: [
      {
        ref: p.ref,
        version: deleted ? null : p.after,
        changedPaths: deleted ? null : changedPathsOf(p.commits, p.total_commits_count),
        forced: false,
      },
    ],
  };
}
