import type { SloObservation } from '../core/slo/slo-set.js';
import type { Build, BuildState, EventOrigin, PinnedInput } from '../core/build.js';
import type { Ancestry, SchedulerEvent } from '../core/event.js';
import type { JobName, SourceName } from '../core/pipeline.js';
import type { RetentionFacts } from '../core/retention.js';
import type { BuildRef, Decision, Rule, SourceHead } from '../core/scheduler/index.js';
import type { ArtifactFile, CollectedOutput, RunResult } from '../executor/port.js';

/**
 * Persistence ports, split by caller (CONVENTIONS.md §3). One adapter class implements them all;
 * each caller depends only on the slice it uses. Every method is one transaction.
 */

export type NewEvent =
  | {
      readonly kind: 'source';
      readonly source: SourceName;
      readonly version: string;
      readonly ref: string | null;
      readonly origin: EventOrigin;
      readonly deliveryId: string | null;
      readonly changedPaths: readonly string[] | null;
      readonly producedBy: number | null;
      readonly receivedAt: number;
    }
  | {
      readonly kind: 'trigger';
      readonly job: JobName;
      readonly force: boolean;
      readonly by: string | null;
      readonly pins?: readonly PinnedInput[];
      readonly rebuildOf?: number | null;
      readonly receivedAt: number;
    }
  | { readonly kind: 'reconcile'; readonly receivedAt: number }
  | { readonly kind: 'settle'; readonly job: JobName; readonly receivedAt: number };

export interface AppendedEvent {
  readonly id: number;
  /** The delivery id was seen before: nothing was stored, `id` is the first delivery's event. */
  readonly redelivery: boolean;
}

/** Ingest writes events here before acknowledging them; the scheduler drains it. */
export interface InboxPort {
  appendEvent(event: NewEvent): Promise<AppendedEvent>;
  /** Many events in one transaction (bus bursts, benchmarks). */
  appendEvents(events: readonly NewEvent[]): Promise<AppendedEvent[]>;
}

export interface SchedulerState {
  readonly heads: readonly SourceHead[];
  readonly activeBuilds: readonly BuildRef[];
  /** Builds that count as built, for fingerprint look-ups. */
  readonly builtFingerprints: readonly BuildRef[];
  readonly lastDefinitionHash: ReadonlyMap<JobName, string>;
  readonly pendingSettles: ReadonlyArray<{ readonly job: JobName; readonly dueAt: number }>;
}

export interface AppliedDecisions {
  readonly queued: readonly BuildRef[];
  readonly skipped: readonly BuildRef[];
  readonly superseded: readonly number[];
  /** Running builds the decisions asked to cancel; the runner kills them. */
  readonly cancelRequested: readonly number[];
  readonly heads: readonly SourceHead[];
}

/** Applies one event's decisions and marks it processed, with its outbox rows. */
export interface DecisionWriter {
  applyDecisions(
    event: SchedulerEvent,
    decisions: readonly Decision[],
    now: number,
  ): Promise<AppliedDecisions>;
}

/** `applyDecisions` on its own is one transaction; `batchDecisions` groups several. */
export interface SchedulerPort extends DecisionWriter {
  loadSchedulerState(): Promise<SchedulerState>;
  /** Unprocessed inbox events, oldest first. */
  pendingEvents(limit: number): Promise<SchedulerEvent[]>;
  /**
   * Runs `work` in one transaction: every event it applies through the writer commits with the
   * others or not at all. The transaction holds the store's only writer, so `work` must be short
   * and wait on nothing but the writer.
   */
  batchDecisions<T>(work: (writer: DecisionWriter) => Promise<T>): Promise<T>;
  /** Removes and returns the quiet periods that are over. */
  takeDueSettles(now: number): Promise<JobName[]>;
}

export interface FinishedRun {
  readonly result: RunResult;
  readonly logBytes: number;
  /** Output versions to announce, written to the inbox in the same transaction. */
  readonly outputEvents: readonly NewEvent[];
  /**
   * A retry follows (`core/retry-rule.ts`): the ending is recorded without a `finished` outbox
   * row, so reporters hear one result, the retry's.
   */
  readonly retrying?: boolean;
}

/** The durable build queue, as the runner (local slots or remote agents) sees it. */
export interface QueuePort {
  /** Takes the oldest queued build, marks it running for `worker`; `null` when none is queued. */
  claimNextBuild(worker: string, now: number): Promise<Build | null>;
  finishBuild(id: number, run: FinishedRun, now: number): Promise<Build>;
  /**
   * Queues a new build with `previous`'s inputs, fingerprint and group: cause `retry`, attempt
   * + 1, the two linked through `relatedBuild`, one `queued` outbox row. `null` (nothing written)
   * when `previous` is unknown or already has a retry. Safe to call twice.
   */
  queueRetry(previous: number, now: number): Promise<Build | null>;
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
   * attempt while `attempt < maxAttempts`.
   */
  recoverLostBuilds(
    now: number,
    maxAttempts: number,
  ): Promise<{ lost: Build[]; requeued: Build[] }>;
  /** Files of a build's output, for materializing job-output inputs. */
  outputFiles(source: SourceName, version: string): Promise<ArtifactFile[]>;
}

export interface SourceStatus {
  readonly name: SourceName;
  readonly kind: string;
  readonly url: string | null;
  readonly heads: ReadonlyArray<{
    readonly ref: string | null;
    readonly version: string;
    readonly at: number;
    readonly origin: string;
  }>;
  readonly nextCheckAt: number | null;
  readonly lastCheckAt: number | null;
  readonly lastCheckOk: boolean | null;
  readonly lastError: string | null;
  readonly pollFailures: number;
  readonly missedEvents: number;
  readonly eventsReceived: number;
  readonly lastEventAt: number | null;
}

export interface PollRecord {
  readonly at: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly nextCheckAt: number | null;
  readonly missed: boolean;
}

/** What the fallback poller and the pipeline loader keep per source. */
export interface SourcePort {
  /** Makes the table match the pipeline's sources (adds new ones, keeps history of removed ones). */
  syncSources(
    sources: ReadonlyArray<{
      readonly name: SourceName;
      readonly kind: string;
      readonly url: string | null;
    }>,
  ): Promise<void>;
  recordPoll(source: SourceName, poll: PollRecord): Promise<void>;
  setNextCheck(source: SourceName, at: number | null): Promise<void>;
  /** Current head of every ref of a source, as stored. */
  sourceHeads(source: SourceName): Promise<SourceHead[]>;
}

export interface BuildFilter {
  readonly job?: JobName;
  readonly state?: BuildState;
  readonly source?: SourceName;
  /** A version or a prefix of one (commit SHAs). */
  readonly version?: string;
  /** Builds with an id lower than this (paging backwards). */
  readonly before?: number;
  readonly limit: number;
}

export interface BuildDetail extends Build {
  readonly outputs: readonly CollectedOutput[];
  readonly warnings: readonly string[];
  readonly logBytes: number;
  readonly definitionHash: string;
  readonly worker: string | null;
}

export interface DecisionRecord {
  readonly id: number;
  readonly eventId: number | null;
  readonly job: JobName | null;
  readonly rule: Rule;
  readonly source: SourceName | null;
  readonly version: string | null;
  readonly buildId: number | null;
  readonly detail: string;
  readonly at: number;
  readonly origin: string | null;
}

/** An inbox event, for `GET /api/events/:id`. */
export interface EventRecord {
  readonly id: number;
  readonly kind: SchedulerEvent['kind'];
  readonly source: SourceName | null;
  readonly version: string | null;
  readonly ref: string | null;
  readonly origin: string;
  readonly deliveryId: string | null;
  readonly receivedAt: number;
  /** `null` while the event waits in the inbox. */
  readonly processedAt: number | null;
  /** The rule that decided it (the build-making one when there was one). */
  readonly outcome: string | null;
  /** Source events: the paths it changed; `null` = unknown (every path filter passes). */
  readonly changedPaths: readonly string[] | null;
  /** Source events: what the git mirror said about the version against the head, when asked. */
  readonly ancestry: Ancestry | null;
  /** Trigger and settle events: the job. */
  readonly job: JobName | null;
}

export interface JobStatus {
  readonly name: JobName;
  readonly latest: Build | null;
  readonly lastFinished: Build | null;
  readonly recentDurationsMs: readonly number[];
}

/** Read side for the API and CLI. */
export interface ReadPort {
  /** Build lifecycle changes since `since` that SLOs count (`store/sql/slo-history.ts`). */
  sloHistory(since: number): Promise<SloObservation[]>;
  listSources(): Promise<SourceStatus[]>;
  jobStatuses(jobs: readonly JobName[]): Promise<JobStatus[]>;
  listBuilds(filter: BuildFilter): Promise<Build[]>;
  getBuild(id: number): Promise<BuildDetail | null>;
  listDecisions(filter: {
    job?: JobName;
    /**
     * With `job`: also the source-level decisions (no job: new version, duplicate, ancestor…)
     * about these sources — the job's inputs — as `nightless why JOB` shows them.
     */
    withSourcesOf?: readonly SourceName[];
    source?: SourceName;
    version?: string;
    eventId?: number;
    limit: number;
  }): Promise<DecisionRecord[]>;
  /** One inbox event as it was stored (and, once decided, what the scheduler knew); `null` if none. */
  getEvent(id: number): Promise<EventRecord | null>;
  /** Highest outbox id, so a new relay starts after history. */
  lastOutboxId(): Promise<number>;
  /** Versions of a source matching a prefix, newest first. */
  findVersions(source: SourceName, prefix: string, limit: number): Promise<string[]>;
  /**
   * The branch `source@version` was last seen on (`null` for non-git sources), or `undefined`
   * when the store never saw that version: what a pinned trigger may use.
   */
  versionRef(source: SourceName, version: string): Promise<string | null | undefined>;
  /** The first build that produced output version `job.output@digest`; null when none did. */
  firstProducer(source: SourceName, digest: string): Promise<number | null>;
  /** Builds that used `source@version` directly. */
  buildsUsing(source: SourceName, version: string): Promise<Build[]>;
  /** Output versions a build produced, as source names (`job.output`) and digests. */
  producedVersions(buildId: number): Promise<Array<{ source: SourceName; version: string }>>;
  artifact(buildId: number, output: string): Promise<ArtifactFile[]>;
  countBuildsByState(): Promise<Record<string, number>>;
}

export type OutboxType = 'queued' | 'started' | 'finished' | 'superseded' | 'cancelled' | 'skipped';

/** One lifecycle change, written in the transaction that made it; delivered by reporters. */
export interface OutboxRecord {
  readonly id: number;
  readonly buildId: number;
  readonly type: OutboxType;
  /** The build as it was right after the change. */
  readonly build: Build;
  readonly createdAt: number;
}

export interface OutboxPort {
  outboxSince(afterId: number, limit: number): Promise<OutboxRecord[]>;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/** One outbox row's delivery to one report target (HTTP targets: webhooks, commit statuses). */
export interface DeliveryRecord {
  readonly id: number;
  readonly outboxId: number;
  readonly target: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  /** When a `pending` delivery is tried next; `null` once delivered or dead. */
  readonly nextAttemptAt: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
  /** From the outbox row. */
  readonly buildId: number;
  readonly type: OutboxType;
}

/** How far one report target got through the outbox. */
export interface ReportCursor {
  readonly target: string;
  readonly kind: string;
  readonly lastOutboxId: number;
  /** Why the target is not progressing (broker unreachable), `null` when it is. */
  readonly lastError: string | null;
  readonly updatedAt: number;
}

/**
 * Delivery state of the reporters (reporters/dispatcher.ts). Each target reads the outbox after
 * its cursor, in order; the cursor only moves forward, and only after a delivery succeeded or was
 * given up (dead). Deliveries at or below the cursor that are `pending` are manual retries.
 */
export interface DeliveryPort {
  /** The target's cursor; a new target starts after `startAfter` (no history replay). */
  ensureCursor(target: string, kind: string, startAfter: number, now: number): Promise<number>;
  /** Moves the cursor to `outboxId` (never backwards) and clears its error. */
  advanceCursor(target: string, outboxId: number, now: number): Promise<void>;
  setCursorError(target: string, error: string | null, now: number): Promise<void>;
  listCursors(): Promise<ReportCursor[]>;
  /** The delivery of `outboxId` to `target`, created `pending` (0 attempts) on first call. */
  openDelivery(outboxId: number, target: string, now: number): Promise<DeliveryRecord>;
  /**
   * Records one attempt's outcome in one transaction: `delivered`, `pending` again (a retry at
   * `nextAttemptAt`) or `dead`. With `advanceTo`, the target's cursor moves in the same transaction.
   */
  recordAttempt(
    id: number,
    outcome:
      | { readonly state: 'delivered' }
      | { readonly state: 'pending'; readonly error: string; readonly nextAttemptAt: number }
      | { readonly state: 'dead'; readonly error: string },
    advanceTo: { readonly target: string; readonly outboxId: number } | null,
    now: number,
  ): Promise<void>;
  /** Due `pending` deliveries at or below the target's cursor (manual retries), oldest first. */
  dueRetries(target: string, now: number, limit: number): Promise<DeliveryRecord[]>;
  /** Earliest `next_attempt_at` of the target's manual retries, `null` when none. */
  nextRetryAt(target: string): Promise<number | null>;
  listDeliveries(filter: {
    readonly state?: DeliveryState;
    readonly target?: string;
    readonly buildId?: number;
    readonly before?: number;
    readonly limit: number;
  }): Promise<DeliveryRecord[]>;
  getDelivery(id: number): Promise<DeliveryRecord | null>;
  /** A `dead` delivery becomes `pending`, attempts reset, due `now`; other states are left alone. */
  retryDelivery(id: number, now: number): Promise<DeliveryRecord | null>;
}

/** Which stored blobs builds still reference (artifact garbage collection). */
export interface ArtifactIndexPort {
  /** True while at least one `artifacts` row names the blob (the row count is its reference count). */
  referencedDigest(digest: string): Promise<boolean>;
  /**
   * Applies the retention rule (docs/executor.md, "Retention and garbage collection"): deletes the
   * `artifacts` rows of builds outside their job's newest `keepBuildsPerJob` builds, unless they
   * hold the head version of a job output or an input of a queued/running build. `build_outputs`
   * rows stay; such a build's outputs then list no files (pruned).
   */
  pruneArtifacts(
    keepBuildsPerJob: number | ((job: JobName) => number),
  ): Promise<ArtifactPruneResult>;
}

/** History tables retention prunes row by row (builds go by plan: {@link RetentionPort.deleteBuilds}). */
export type HistoryKind = 'decisions' | 'versions' | 'events' | 'outbox';

/** What the retention rule needs to know about one history row. */
export interface HistoryRow {
  readonly id: number;
  /** The job the row belongs to (job-level decisions, trigger events), else `null`. */
  readonly job: JobName | null;
  /** The source the row belongs to (versions, source events, source-level decisions), else `null`. */
  readonly source: SourceName | null;
  /** When it was written (epoch ms). */
  readonly at: number;
}

export interface HistoryBatch {
  readonly examined: number;
  readonly deleted: number;
  /** Delivered `deliveries` rows deleted with their outbox rows (`outbox` batches only). */
  readonly deliveries: number;
  /** Where the next batch starts. */
  readonly lastId: number;
  /** No rows after `lastId`. */
  readonly done: boolean;
}

export interface DeletedBuilds {
  readonly builds: ReadonlyArray<{
    readonly id: number;
    readonly job: JobName;
    readonly fingerprint: string;
    readonly logBytes: number;
  }>;
  readonly decisions: number;
}

/**
 * What retention (engine/retention.ts) reads and deletes. Every call is one short transaction;
 * the caller batches. The store re-checks the rules no plan may break: queued and running builds,
 * producers of current heads, unprocessed events, undelivered outbox rows and anything a
 * remaining row names are never deleted.
 */
export interface RetentionPort {
  retentionFacts(): Promise<RetentionFacts>;
  /** Deletes up to 500 finished builds with their decisions, inputs, outputs and artifact rows. */
  deleteBuilds(ids: readonly number[]): Promise<DeletedBuilds>;
  /**
   * Examines at most `limit` rows of `kind` after `afterId`; deletes those the store allows and
   * `deletable` accepts. Outbox rows above `deliveredUpTo` (the slowest report target's cursor)
   * are never deleted.
   */
  pruneHistory(
    kind: HistoryKind,
    afterId: number,
    limit: number,
    deletable: (row: HistoryRow) => boolean,
    deliveredUpTo: number,
  ): Promise<HistoryBatch>;
}

export interface ArtifactPruneResult {
  /** Builds whose artifact rows were deleted by this call. */
  readonly buildsPruned: number;
  readonly rowsDeleted: number;
}

export interface Store
  extends
    OutboxPort,
    ArtifactIndexPort,
    RetentionPort,
    InboxPort,
    SchedulerPort,
    QueuePort,
    SourcePort,
    ReadPort {
  /** Key/value settings (API token hash, pipeline name). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
