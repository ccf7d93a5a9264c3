import type { JobName, SourceName } from '../../core/pipeline.js';
import type { RetentionFacts } from '../../core/retention.js';

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
  /** Those of `ids` (at most 500) that are builds still in the database (not deleted by retention). */
  existingBuilds(ids: readonly number[]): Promise<Set<number>>;
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
