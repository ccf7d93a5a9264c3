import type { Ancestry, SchedulerEvent } from '../../core/event.js';
import type { JobName } from '../../core/pipeline.js';
import type { BuildRef, Decision, SourceHead } from '../../core/scheduler/index.js';

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
  /** Queued and running builds of change requests that were closed: the engine cancels them. */
  readonly requestClosed?: readonly number[];
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
  /**
   * Records how a version decided earlier relates to the head it replaced, learnt after deciding
   * (see `SchedulerLoop`): the event's `ancestry`, and `note` (if any) added to its `new-version`
   * decision. Optional: without it, such facts are only logged.
   */
  recordAncestry?(eventId: number, ancestry: Ancestry, note: string | null): Promise<void>;
}
