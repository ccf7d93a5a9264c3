import type { Build } from '../core/build.js';
import type { AgentRecord, LeasedBuild } from '../store/ports.js';

/** The agent as it introduces itself on every claim and heartbeat. */
export interface AgentHello {
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
  /** Builds it runs now. */
  readonly running: readonly number[];
}

export interface ClaimedWork {
  readonly id: number;
  readonly job: string;
  readonly attempt: number;
  /** JSON the agent turns into a `RunSpec` (job, inputs, secret values, env). */
  readonly spec: unknown;
}

export interface HeartbeatAnswer {
  readonly keep: readonly number[];
  readonly discard: readonly number[];
  readonly cancel: ReadonlyArray<{ readonly id: number; readonly reason: string }>;
}

/**
 * Why the server refused an agent's upload: `gap` — the chunk does not continue the server's
 * copy, resend from `size`; `lost` — the agent no longer holds the build (lease expired, build
 * ended as `state`): kill the step and discard the result.
 */
export type AgentRefusal =
  | { readonly refused: 'gap'; readonly size: number }
  | { readonly refused: 'lost'; readonly state: string };

/**
 * What the agent routes need (`runner/remote/` in the embedded deployment): long-poll claims,
 * lease renewal, log chunks and results. The database stays the queue's only source of truth.
 */
export interface AgentService {
  readonly leaseMs: number;
  /** Waits up to `waitMs` for a build the agent's labels allow; `null` when none came. */
  claim(agent: AgentHello, waitMs: number, signal: AbortSignal): Promise<ClaimedWork | null>;
  heartbeat(agent: AgentHello): Promise<HeartbeatAnswer>;
  /**
   * Appends `bytes`, which start at `offset` of the build's log. Idempotent by offset: bytes the
   * server has already are skipped. Resolves with the log's new size, or a refusal.
   */
  appendLog(
    agent: string,
    buildId: number,
    offset: number,
    bytes: Buffer,
  ): Promise<{ readonly size: number } | AgentRefusal>;
  /**
   * Records the result. A second call for a build this agent finished resolves with it again
   * (the agent retries until acknowledged); a refusal when the lease was lost.
   */
  finish(
    agent: string,
    buildId: number,
    result: unknown,
    logBytes: number,
  ): Promise<{ readonly build: Build } | AgentRefusal>;
  agents(): Promise<{ agents: AgentRecord[]; leased: LeasedBuild[] }>;
}

/** Content-addressed blob storage as the agent routes see it (`ContentStore`). */
export interface BlobStore {
  has(digest: string): Promise<boolean>;
  /** Stores the file's content; resolves with its digest. */
  put(filePath: string): Promise<{ readonly digest: string; readonly size: number }>;
  openRead(digest: string): NodeJS.ReadableStream;
}
