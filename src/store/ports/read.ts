import type { DeliveryObservation } from '../../core/slo/delivery-tally.js';
import type { TraceObservation } from '../../core/slo/lead-time.js';
import type { SloObservation } from '../../core/slo/slo-set.js';
import type { Build, BuildState } from '../../core/build.js';
import type { Ancestry, SchedulerEvent } from '../../core/event.js';
import type { JobName, SourceName } from '../../core/pipeline.js';
import type { Rule } from '../../core/scheduler/index.js';
import type { ArtifactFile, CollectedOutput } from '../../executor/port.js';
import type { SourceStatus } from './sources.js';

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
  sloHistory(
    since: number,
  ): Promise<Array<SloObservation | DeliveryObservation | TraceObservation>>;
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
