import { matchesAny } from './glob-match.js';
import type { GitSource } from './pipeline.js';

/**
 * Change requests (GitHub pull requests, GitLab merge requests, Gitea/Forgejo pull requests) as
 * versions of a git source: each request is a ref of its own, `pr/<number>`, whose versions are
 * the request's head commits (docs/change-requests.md).
 */

export type Forge = 'github' | 'gitlab' | 'gitea';

/** How a source follows change requests (`change_requests:` in the pipeline file). */
export interface ChangeRequestsDef {
  /** Target-branch patterns; a request into another branch is not built. */
  readonly targets: readonly string[];
  /**
   * `head`: build the request's head commit; `merge`: build the merge result with the target
   * (the forge's merge ref where it has one, else merged in the workspace).
   */
  readonly checkout: 'head' | 'merge';
  /**
   * Which forge serves the repository: names the merge refs to fetch and the API the fallback
   * poll lists open requests with. `null`: webhooks only, merge results merged in the workspace.
   */
  readonly forge?: Forge | null;
  /** The forge's REST API, for the fallback poll; `null`: requests are not polled. */
  readonly api?: ForgeApi | null;
}

export interface ForgeApi {
  /** `https://api.github.com`, `https://gitlab.example.com/api/v4`, `https://gitea.example.com/api/v1`. */
  readonly baseUrl: string;
  /** `owner/repo` (GitHub, Gitea) or `group/project` (GitLab). */
  readonly project: string;
  /** Secret: sent as the forge's auth header, never logged. */
  readonly token: string | null;
  readonly allowPrivate: boolean;
}

/** What a request event says about the request, beyond its head commit (the event's version). */
export interface RequestFacts {
  readonly number: number;
  /** The target branch's short name (`main`). */
  readonly target: string;
  /** The request was closed or merged: its builds are moot. */
  readonly closed: boolean;
  /** Reopened: its head is built again even when it is the known head (a close cancelled it). */
  readonly reopened?: boolean;
}

/** Everything nightless keeps about a request: reports, fork safety, `trace pr/42`. */
export interface ChangeRequest {
  readonly source: string;
  readonly number: number;
  readonly forge: Forge;
  readonly title: string;
  readonly author: string;
  readonly target: string;
  readonly headSha: string;
  /** The head lives in another repository: untrusted until a maintainer approves its head. */
  readonly fork: boolean;
  readonly state: 'open' | 'closed' | 'merged';
  /** The request's web page, when the forge sent it. */
  readonly url: string | null;
  readonly updatedAt: number;
}

const REF = /^pr\/([1-9][0-9]{0,9})$/;

export function requestRef(n: number): string {
  return `pr/${n}`;
}

/** The request number a ref names (`pr/42` → 42), `null` for branches and tags. */
export function requestNumber(ref: string | null): number | null {
  if (ref === null) return null;
  const m = REF.exec(ref);
  return m ? Number(m[1]) : null;
}

/** Whether the source builds requests into `target`. */
export function followsRequestsInto(source: GitSource, target: string): boolean {
  const cr = source.changeRequests;
  return cr !== undefined && cr !== null && matchesAny(target, cr.targets);
}
