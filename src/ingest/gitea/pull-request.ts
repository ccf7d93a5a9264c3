import { z } from 'zod';
import { requestActionIgnored, requestVersions } from '../webhooks/request-update.js';
import {
  PayloadError,
  describeIssues,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

const repo = z.object({
  clone_url: z.string().optional(),
  ssh_url: z.string().optional(),
  html_url: z.string().optional(),
});

/**
 * The fields of a Gitea/Forgejo `pull_request` event nightless reads (`api.PullRequestPayload`:
 * actions `opened`, `synchronized`, `reopened`, `closed`, `edited`, label/assign/review ones).
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
    head: z.object({ sha: z.string().min(1), repo_id: z.number() }),
    base: z.object({ ref: z.string().min(1), repo_id: z.number() }),
  }),
  repository: repo,
});

const BUILDS = new Set(['opened', 'synchronized', 'reopened', 'closed', 'edited']);

export function parseGiteaPullRequest(body: unknown): WebhookParse {
  const res = payload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`not a Gitea pull_request payload: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  if (!BUILDS.has(p.action)) return requestActionIgnored('Gitea', p.action);
  const pr = p.pull_request;
  const r = p.repository;
  const closed = p.action === 'closed' || pr.state === 'closed';
  return requestVersions(urlsOf(r.clone_url, r.ssh_url, r.html_url), pr.head.sha, {
    number: p.number,
    target: pr.base.ref,
    title: pr.title,
    author: pr.user.login,
    fork: pr.head.repo_id !== pr.base.repo_id,
    state: closed ? (pr.merged === true ? 'merged' : 'closed') : 'open',
    url: pr.html_url ?? null,
    ...(p.action === 'reopened' ? { reopened: true } : {}),
  });
}
