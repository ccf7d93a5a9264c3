/**
 * What a forge driver makes of one delivery (CONVENTIONS §10): versions to announce, a ping,
 * or a reason to ignore it. Drivers are pure: no secrets, no store, no pipeline.
 */

/** One ref the delivery moved. */
export interface RefUpdate {
  /** The full ref as the forge sent it: `refs/heads/main`, `refs/tags/v1.2`. Data, never shell text. */
  readonly ref: string;
  /** The new commit; `null` when the ref was deleted. */
  readonly version: string | null;
  /** Union of the paths the pushed commits added, modified or removed; `null` = unknown. */
  readonly changedPaths: readonly string[] | null;
  /** A force push (history rewritten); `false` when the forge does not say. */
  readonly forced: boolean;
  /** Set for change request events; `ref` is then `pr/<number>` and `version` the head commit. */
  readonly request?: RequestUpdate;
}

/** What a pull/merge request event says about the request. */
export interface RequestUpdate {
  readonly number: number;
  /** Target branch, short name. */
  readonly target: string;
  readonly title: string;
  /** The login of the request's author (GitLab: the user who acted). */
  readonly author: string;
  /** The head lives in another repository than the target. */
  readonly fork: boolean;
  readonly state: 'open' | 'closed' | 'merged';
  readonly url: string | null;
  /** The event reopened the request. */
  readonly reopened?: boolean;
}

export type WebhookParse =
  | {
      readonly kind: 'versions';
      /** Every form of the repository URL the payload carries (https, ssh, git://, web). */
      readonly repoUrls: readonly string[];
      readonly updates: readonly RefUpdate[];
    }
  | { readonly kind: 'ping'; readonly repoUrls: readonly string[] }
  | { readonly kind: 'ignored'; readonly reason: string };

/** The body is JSON but not the shape the event type promises: answered with 400. */
export class PayloadError extends Error {
  readonly code = 'NL_BAD_PAYLOAD';
}

const ZERO_SHA = /^0+$/;

/** Forges announce a deleted ref as a push whose new commit is all zeros. */
export function isZeroSha(sha: string | null | undefined): boolean {
  return sha === null || sha === undefined || sha === '' || ZERO_SHA.test(sha);
}

/**
 * The paths a list of pushed commits touched, sorted and without duplicates. `null` (unknown,
 * so path filters pass) when the forge sent no commit list, an empty one (a rewind or a push of
 * existing commits still changes the tree), or a truncated one (`total` > the list's length).
 */
export function changedPathsOf(
  commits:
    | ReadonlyArray<{
        readonly added?: readonly string[] | undefined;
        readonly modified?: readonly string[] | undefined;
        readonly removed?: readonly string[] | undefined;
      }>
    | undefined,
  total?: number,
): string[] | null {
  if (!commits || commits.length === 0) return null;
  if (total !== undefined && total > commits.length) return null;
  const paths = new Set<string>();
  for (const c of commits) {
    for (const p of [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]) paths.add(p);
  }
  return [...paths].sort();
}

/** Distinct non-empty strings, in order. */
export function urlsOf(...candidates: ReadonlyArray<string | null | undefined>): string[] {
  return [...new Set(candidates.filter((u): u is string => typeof u === 'string' && u !== ''))];
}

/** A short description of why a payload did not match (first three issues). */
export function describeIssues(
  issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }>,
): string {
  return issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}
