import { z } from 'zod';
import {
  PayloadError,
  changedPathsOf,
  describeIssues,
  isZeroSha,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

/** GitHub lists at most this many commits in a push payload; a longer push is truncated. */
const MAX_LISTED_COMMITS = 2048;

const repository = z.object({
  clone_url: z.string().optional(),
  ssh_url: z.string().optional(),
  git_url: z.string().optional(),
  html_url: z.string().optional(),
  url: z.string().optional(),
  full_name: z.string().optional(),
});

const commit = z.object({
  added: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
});

/** The fields of a `push` event nightless reads (docs.github.com, "Webhook events and payloads"). */
const pushPayload = z.object({
  ref: z.string().min(1),
  before: z.string().optional(),
  after: z.string(),
  created: z.boolean().optional(),
  deleted: z.boolean().optional(),
  forced: z.boolean().optional(),
  commits: z.array(commit).optional(),
  repository,
});

const pingPayload = z.object({
  zen: z.string().optional(),
  hook_id: z.number().optional(),
  repository: repository.optional(),
});

function repoUrls(r: z.infer<typeof repository> | undefined): string[] {
  return r ? urlsOf(r.clone_url, r.ssh_url, r.git_url, r.html_url, r.url) : [];
}

export function parseGithubPush(body: unknown): WebhookParse {
  const res = pushPayload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`not a GitHub push payload: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  const deleted = p.deleted === true || isZeroSha(p.after);
  const commits = p.commits;
  return {
    kind: 'versions',
    repoUrls: repoUrls(p.repository),
    updates: [
      {
        ref: p.ref,
        version: deleted ? null : p.after,
        changedPaths: deleted
          ? null
          : changedPathsOf(
              commits,
              commits && commits.length >= MAX_LISTED_COMMITS ? Infinity : undefined,
            ),
        forced: p.forced === true,
      },
    ],
  };
}

export function parseGithubPing(body: unknown): WebhookParse {
  const res = pingPayload.safeParse(body);
  return { kind: 'ping', repoUrls: res.success ? repoUrls(res.data.repository) : [] };
}
