import { z } from 'zod';
import { requestActionIgnored, requestVersions } from '../webhooks/request-update.js';
import {
  PayloadError,
  describeIssues,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

const repo = z.object({
  full_name: z.string().optional(),
  clone_url: z.string().optional(),
  ssh_url: z.string().optional(),
  git_url: z.string().optional(),
  html_url: z.string().optional(),
  url: z.string().optional(),
});

/**
 * The fields of a `pull_request` event nightless reads (docs.github.com, "Webhook events and
 * payloads", pull_request). `head.repo` is `null` when the fork was deleted.
 */
const payload = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    title: z.string(),
    state: z.string(),
    merged: z.boolean().nullable().optional(),
    html_url: z.string().optional(),
    user: z.object({ login: z.string() }),
    head: z.object({ sha: z.string().min(1), repo: repo.nullable() }),
    base: z.object({ ref: z.string().min(1), repo }),
  }),
  repository: repo,
});

/** Actions that change what a build of the request would see (or end the request). */
const BUILDS = new Set(['opened', 'synchronize', 'reopened', 'closed', 'edited']);

export function parseGithubPullRequest(body: unknown): WebhookParse {
  const res = payload.safeParse(body);
  if (!res.success)
    throw new PayloadError(
      `not a GitHub pull_request payload: ${describeIssues(res.error.issues)}`,
    );
  const p = res.data;
  if (!BUILDS.has(p.action)) return requestActionIgnored('GitHub', p.action);
  const pr = p.pull_request;
  const r = p.repository;
  const closed = p.action === 'closed' || pr.state === 'closed';
  return requestVersions(
    urlsOf(r.clone_url, r.ssh_url, r.git_url, r.html_url, r.url),
    pr.head.sha,
    {
      number: p.number,
      target: pr.base.ref,
      title: pr.title,
      author: pr.user.login,
      fork: pr.head.repo === null || pr.head.repo.full_name !== pr.base.repo.full_name,
      state: closed ? (pr.merged === true ? 'merged' : 'closed') : 'open',
      url: pr.html_url ?? null,
      ...(p.action === 'reopened' ? { reopened: true } : {}),
    },
  );
}
