import type { ChangeRequest } from '../../core/change-request.js';

/** A maintainer's approval of one head commit of a request (fork safety). */
export interface Approval {
  readonly source: string;
  readonly number: number;
  readonly sha: string;
  readonly by: string;
  readonly at: number;
}

/**
 * Change requests and their approvals (migration 0009). Ingest records what forges say; the
 * runner asks whether a build is trusted; the API approves. Every call is one statement or one
 * short transaction, safe to call concurrently.
 */
export interface ChangeRequestPort {
  /** Inserts or updates the request (title, head, state change with every event). */
  recordRequest(request: ChangeRequest): Promise<void>;
  getRequest(source: string, number: number): Promise<ChangeRequest | null>;
  listRequests(filter: {
    source?: string;
    state?: ChangeRequest['state'];
  }): Promise<ChangeRequest[]>;
  /** Idempotent: approving the same head twice keeps the first approval. */
  approve(approval: Approval): Promise<Approval>;
  /** The approval of exactly this head commit, if any: a new push needs a new approval. */
  approvalOf(source: string, number: number, sha: string): Promise<Approval | null>;
}
