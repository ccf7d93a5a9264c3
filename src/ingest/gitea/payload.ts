import { z } from 'zod';
import {
  PayloadError,
  changedPathsOf,
  describeIssues,
  isZeroSha,
  urlsOf,
  type WebhookParse,
} from '../webhooks/webhook-parse.js';

const repository = z.object({
  clone_url: z.string().optional(),
  ssh_url: z.string().optional(),
  html_url: z.string().optional(),
  full_name: z.string().optional(),
});

const commit = z.object({
  added: z.array(z.string()).nullable().optional(),
  modified: z.array(z.string()).nullable().optional(),
  removed: z.array(z.string()).nullable().optional(),
});

/**
 * The fields of a Gitea/Forgejo `push` event nightless reads. Gitea lists a limited number of
 * commits (`[webhook] PAGING_NUM`); `total_commits` says how many the push had. Gitea sends
 * `null` for empty file lists.
 */
const pushPayload = z.object({
  ref: z.string().min(1),
  before: z.string().optional(),
  after: z.string(),
  total_commits: z.number().optional(),
  commits: z.array(commit).nullable().optional(),
  repository,
});

const refEventPayload = z.object({
  ref: z.string(),
  ref_type: z.string(),
  repository: repository.optional(),
});

function repoUrlsOf(r: z.infer<typeof repository> | undefined): string[] {
  return r ? urlsOf(r.clone_url, r.ssh_url, r.html_url) : [];
}

/** Gitea says nothing about force pushes: `forced` is always `false`. */
export function parseGiteaPush(body: unknown): WebhookParse {
  const res = pushPayload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`not a Gitea push payload: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  const deleted = isZeroSha(p.after);
  const commits = (p.commits ?? undefined)?.map((c) => ({
    added: c.added ?? [],
    modified: c.modified ?? [],
    removed: c.removed ?? [],
  }));
  return {
    kind: 'versions',
    repoUrls: repoUrlsOf(p.repository),
    updates: [
      {
        ref: p.ref,
        version: deleted ? null : p.after,
        changedPaths: deleted ? null : changedPathsOf(commits, p.total_commits),
        forced: false,
      },
    ],
  };
}

/**
 * `delete` events name the ref without `refs/heads/`: recorded as a deleted ref (nothing to
 * build). `create` is ignored: the push that comes with it carries the version.
 */
export function parseGiteaRefEvent(event: 'create' | 'delete', body: unknown): WebhookParse {
  const res = refEventPayload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`not a Gitea ${event} payload: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  if (event === 'create')
    return {
      kind: 'ignored',
      reason: `${p.ref_type} created: ${p.ref} (its push event carries the version)`,
    };
  const prefix = p.ref_type === 'tag' ? 'refs/tags/' : 'refs/heads/';
  const ref = p.ref.startsWith('refs/') ? p.ref : `${prefix}${p.ref}`;
  return {
    kind: 'versions',
    repoUrls: repoUrlsOf(p.repository),
    updates: [{ ref, version: null, changedPaths: null, forced: false }],
  };
}
