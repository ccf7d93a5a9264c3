import { z } from 'zod';
import { requestActionIgnored, requestVersions } from '../webhooks/request-update.js';
import {
  PayloadError,
  describeIssues,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

const project = z.object({
  git_http_url: z.string().optional(),
  git_ssh_url: z.string().optional(),
  http_url: z.string().optional(),
  ssh_url: z.string().optional(),
  web_url: z.string().optional(),
  url: z.string().optional(),
});

/**
 * The fields of a "Merge Request Hook" nightless reads (docs.gitlab.com, "Webhook events",
 * merge request events). `action` is `open`, `reopen`, `update` (with `oldrev` when commits were
 * pushed), `close`, `merge`, `approved`, ...
 */
const payload = z.object({
  object_kind: z.literal('merge_request'),
  user: z.object({ username: z.string() }),
  project,
  object_attributes: z.object({
    iid: z.number().int().positive(),
    target_branch: z.string().min(1),
    source_project_id: z.number(),
    target_project_id: z.number(),
    title: z.string(),
    state: z.string(),
    action: z.string().optional(),
    url: z.string().optional(),
    last_commit: z.object({ id: z.string().min(1) }),
  }),
});

const BUILDS = new Set(['open', 'reopen', 'update', 'close', 'merge']);

export function parseGitlabMergeRequest(body: unknown): WebhookParse {
  const res = payload.safeParse(body);
  if (!res.success)
    throw new PayloadError(
      `not a GitLab merge request payload: ${describeIssues(res.error.issues)}`,
    );
  const p = res.data;
  const a = p.object_attributes;
  const action = a.action ?? 'update';
  if (!BUILDS.has(action)) return requestActionIgnored('GitLab', action);
  const pr = p.project;
  const state =
    action === 'merge' || a.state === 'merged'
      ? 'merged'
      : action === 'close' || a.state === 'closed'
        ? 'closed'
        : 'open';
  return requestVersions(
    urlsOf(pr.git_http_url, pr.git_ssh_url, pr.http_url, pr.ssh_url, pr.web_url, pr.url),
    a.last_commit.id,
    {
      number: a.iid,
      target: a.target_branch,
      title: a.title,
      author: p.user.username,
      fork: a.source_project_id !== a.target_project_id,
      state,
      url: a.url ?? null,
      ...(action === 'reopen' ? { reopened: true } : {}),
    },
  );
}
