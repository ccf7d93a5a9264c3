import {
  isCounted,
  type Build,
  type BuildCause,
  type BuildInput,
  type BuildState,
} from '../core/build.js';
import { failureClassOfStored } from '../core/failure-class.js';
import type { SchedulerEvent } from '../core/event.js';
import type { JobName, Pipeline } from '../core/pipeline.js';
import type { BuildRef, Decision, SourceHead } from '../core/scheduler/index.js';
import { decide } from '../core/scheduler/index.js';
import { MemorySnapshot } from '../scheduler/scheduler-state.js';
import type { AppliedDecisions, SchedulerState } from '../store/ports.js';

/** The rule's one owner is core; re-exported for the model's tests. */
export { COUNTED_STATES } from '../core/build.js';

/** One row of the model's `builds` table. */
export interface ModelBuild {
  readonly id: number;
  readonly job: JobName;
  state: BuildState;
  readonly fingerprint: string;
  readonly definitionHash: string;
  readonly forced: boolean;
  readonly inputs: readonly BuildInput[];
  readonly cause: BuildCause;
  relatedBuild: number | null;
  reason: string | null;
  readonly group: string;
  /** The concurrency group's limit the build was queued with (skips: 1, never claimed). */
  readonly limit: number;
}

/**
 * An in-memory stand-in for the store, for property tests of the scheduler without a database.
 * `apply` mirrors the SQL decision writer, `store/sql/decision-writer.ts` (heads,
 * queued/superseded/skipped builds, settles), and the scheduler reads through the engine's own
 * `MemorySnapshot`, kept current exactly as the scheduler loop and build runner keep it — so
 * there is one snapshot implementation, and
 * `state()` (what `loadSchedulerState` would return) lets a test check that the incremental
 * snapshot never drifts from the rows. Synchronous, deterministic, single-threaded.
 */
export class ModelStore {
  readonly builds: ModelBuild[] = [];
  readonly snapshot: MemorySnapshot;
  private readonly headRows = new Map<string, SourceHead>();
  private readonly settles = new Map<JobName, number>();
  private nextVersionId = 1;
  private nextEventId = 1;

  constructor(pipeline: Pipeline) {
    this.snapshot = new MemorySnapshot(pipeline, this.state());
  }

  /** The next inbox id, for building events. */
  eventId(): number {
    return this.nextEventId++;
  }

  /** Decides `event` against the snapshot and applies the decisions: one scheduler-loop step. */
  step(event: SchedulerEvent, now: number): Decision[] {
    const decisions = decide(this.snapshot, event, now);
    this.snapshot.applied(this.apply(event, decisions, now), decisions);
    return decisions;
  }

  /** What `SchedulerPort.loadSchedulerState` returns for these rows. */
  state(): SchedulerState {
    const counted = this.builds.filter((b) => isCounted(b.state)).map(toRef);
    const last = new Map<JobName, string>();
    for (const b of this.builds) if (b.state !== 'skipped') last.set(b.job, b.definitionHash);
    return {
      heads: [...this.headRows.values()],
      activeBuilds: counted.filter((b) => b.state === 'queued' || b.state === 'running'),
      builtFingerprints: counted,
      lastDefinitionHash: last,
      pendingSettles: [...this.settles].map(([job, dueAt]) => ({ job, dueAt })),
    };
  }

  /** Applies one event's decisions as the SQL store does (one transaction there). */
  apply(event: SchedulerEvent, decisions: readonly Decision[], _now: number): AppliedDecisions {
    const queued: BuildRef[] = [];
    const skipped: BuildRef[] = [];
    const superseded: number[] = [];
    const cancelRequested: number[] = [];
    const heads: SourceHead[] = [];
    for (const d of decisions) {
      switch (d.kind) {
        case 'advance-head': {
          const head: SourceHead = {
            source: d.source,
            version: d.version,
            ref: d.ref,
            eventId: event.id,
            origin: d.origin,
            seq: this.nextVersionId++,
            producedBy: d.producedBy,
          };
          this.headRows.set(`${d.source}\u0000${d.ref ?? ''}`, head);
          heads.push(head);
          break;
        }
        case 'queue-build': {
          const b = this.insert({
            ...d,
            state: 'queued',
            relatedBuild: null,
            reason: null,
            group: d.concurrency.group,
            limit: d.concurrency.limit,
          });
          queued.push(toRef(b));
          superseded.push(...this.supersede(d.supersedes, b.id));
          cancelRequested.push(...d.cancels);
          break;
        }
        case 'record-skip': {
          const b = this.insert({
            ...d,
            state: 'skipped',
            forced: false,
            relatedBuild: d.identicalTo,
            reason: d.reason,
            limit: 1,
          });
          skipped.push(toRef(b));
          superseded.push(...this.supersede(d.supersedes, b.id));
          break;
        }
        case 'defer':
          this.settles.set(d.job, d.until);
          break;
        case 'cancel-builds':
          for (const id of [...d.queued, ...d.running]) this.transition(id, 'cancelled', d.detail);
          break;
        case 'record-duplicate':
        case 'note':
          break;
      }
    }
    return { queued, skipped, superseded, cancelRequested, heads };
  }

  private supersede(ids: readonly number[], by: number): number[] {
    const done: number[] = [];
    for (const old of ids) {
      const row = this.builds[old - 1];
      if (row?.state !== 'queued') continue;
      row.state = 'superseded';
      row.relatedBuild = by;
      row.reason = `superseded by build #${by}`;
      done.push(old);
    }
    return done;
  }

  /** Removes the quiet periods that are over and returns their settle events (oldest due first). */
  takeDueSettles(now: number): SchedulerEvent[] {
    const due = [...this.settles].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [job] of due) this.settles.delete(job);
    return due.map(([job]) => ({ kind: 'settle', id: this.eventId(), job, receivedAt: now }));
  }

  /** Moves a build to `state` as the queue and runner do (claim, finish, cancel). */
  transition(id: number, state: BuildState, reason: string | null = null): ModelBuild {
    const b = this.builds[id - 1];
    if (!b) throw new Error(`no build #${id}`);
    b.state = state;
    b.reason = reason;
    this.snapshot.buildChanged(toBuild(b));
    return b;
  }

  /**
   * Starts the build `QueuePort.claimNextBuild` starts: the oldest queued build that is also the
   * oldest queued one of its concurrency group, and whose group runs fewer builds than the limit
   * it was queued with. `null` when none may start.
   */
  claimNext(): ModelBuild | null {
    const oldestQueued = new Map<string, ModelBuild>();
    const running = new Map<string, number>();
    for (const b of this.builds) {
      if (b.state === 'queued' && !oldestQueued.has(b.group)) oldestQueued.set(b.group, b);
      if (b.state === 'running') running.set(b.group, (running.get(b.group) ?? 0) + 1);
    }
    for (const b of this.builds) {
      if (b.state !== 'queued' || oldestQueued.get(b.group) !== b) continue;
      if ((running.get(b.group) ?? 0) < b.limit) return this.transition(b.id, 'running');
    }
    return null;
  }

  get pendingSettles(): ReadonlyMap<JobName, number> {
    return this.settles;
  }

  private insert(
    d: Omit<ModelBuild, 'id' | 'definitionHash'> & { definitionHash: string },
  ): ModelBuild {
    const b: ModelBuild = {
      id: this.builds.length + 1,
      job: d.job,
      state: d.state,
      fingerprint: d.fingerprint,
      definitionHash: d.definitionHash,
      forced: d.forced,
      inputs: d.inputs,
      cause: d.cause,
      relatedBuild: d.relatedBuild,
      reason: d.reason,
      group: d.group,
      limit: d.limit,
    };
    this.builds.push(b);
    return b;
  }
}

function toRef(b: ModelBuild): BuildRef {
  return {
    id: b.id,
    job: b.job,
    state: b.state,
    fingerprint: b.fingerprint,
    forced: b.forced,
    group: b.group,
  };
}

function toBuild(b: ModelBuild): Build {
  return {
    ...toRef(b),
    inputs: b.inputs,
    cause: b.cause,
    queuedAt: 0,
    startedAt: null,
    finishedAt: null,
    failedStep: null,
    reason: b.reason,
    failureClass: failureClassOfStored(b.state, b.reason),
    relatedBuild: b.relatedBuild,
    exitCode: null,
    coverage: null,
    attempt: 1,
    concurrencyGroup: b.group,
  };
}
