import type { Build } from '../../core/build.js';
import type { SourceName } from '../../core/pipeline.js';
import type { ArtifactFile, RunResult } from '../../executor/port.js';
import type { NewEvent } from './inbox.js';

export interface FinishedRun {
  readonly result: RunResult;
  readonly logBytes: number;
  /** Output versions to announce, written to the inbox in the same transaction. */
  readonly outputEvents: readonly NewEvent[];
  /**
   * A retry follows (`core/retry-rule.ts`), claimable from this time (the end of its backoff):
   * the ending is recorded without a `finished` outbox row, so reporters hear one result, the
   * retry's, and the retry is queued in the same transaction — a crash during the backoff loses
   * neither.
   */
  readonly retryAt?: number;
}

/** Which builds a claimer may take, and the lease it takes them under. */
export interface ClaimFilter {
  /** Only builds of these jobs (`runs_on:` labels the claimer has); `null`: any job. */
  readonly jobs: readonly string[] | null;
  /**
   * An agent's or a server replica's claim: the build is leased until then (renewed while it
   * runs; an expired lease ends it `error: lost`). `null` for the embedded server's slots: a
   * restart's recovery decides for them.
   */
  readonly leaseUntil: number | null;
}

/** The durable build queue, as the runner (local slots or remote agents) sees it. */
export interface QueuePort {
  /**
   * Takes the oldest eligible queued build (concurrency groups in queue order, under their
   * limit; a retry only once its `notBefore` has passed) and marks it running for `worker`; `null` when none is eligible. Safe for any number
   * of concurrent claimers on separate connections or processes: each build goes to exactly one.
   */
  claimNextBuild(worker: string, now: number, filter?: ClaimFilter): Promise<Build | null>;
  finishBuild(id: number, run: FinishedRun, now: number): Promise<Build>;
  /**
   * Queues a new build with `previous`'s inputs, fingerprint and group: cause `retry`, attempt
   * + 1, the two linked through `relatedBuild`, one `queued` outbox row. `null` (nothing written)
   * when `previous` is unknown or already has a retry. Safe to call twice.
   */
  queueRetry(previous: number, now: number, notBefore?: number): Promise<Build | null>;
  /**
   * The earliest time after `now` a queued build waiting out a retry backoff becomes claimable;
   * `null` when none waits. The runner sets its wake-up by it (also after a restart).
   */
  nextRetryAt(now: number): Promise<number | null>;
  /**
   * Puts a running build back in the queue (a graceful shutdown killed it): state `queued`, no
   * start time or worker, its place in the queue kept, one `queued` outbox row. `null` (and
   * nothing written) when the build is not `running`.
   */
  requeueBuild(id: number, now: number): Promise<Build | null>;
  /** Cancels a queued build; running builds are cancelled by their runner. Returns the build. */
  cancelQueuedBuild(id: number, reason: string, now: number): Promise<Build | null>;
  /**
   * Builds left `running` by a previous process: marked `error: lost`; each re-queued as a new
   * attempt while `attempt < maxAttempts`. Without `worker`, leased builds are left to their
   * lease (agents keep running them). With `worker`, only the builds that worker claimed, leased
   * or not (a restarted server replica recovers its own builds, never a live replica's).
   */
  recoverLostBuilds(
    now: number,
    maxAttempts: number,
    worker?: string,
  ): Promise<{ lost: Build[]; requeued: Build[] }>;
  /** Files of a build's output, for materializing job-output inputs. */
  outputFiles(source: SourceName, version: string): Promise<ArtifactFile[]>;
}
