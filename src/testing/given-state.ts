import { isCounted, type BuildState, type EventOrigin, type PinnedInput } from '../core/build.js';
import type { RequestFacts } from '../core/change-request.js';
import type {
  Ancestry,
  ReconcileEvent,
  SettleEvent,
  SourceEvent,
  TriggerEvent,
} from '../core/event.js';
import { concurrencyGroup } from '../core/concurrency-group.js';
import { definitionHash, fingerprint } from '../core/fingerprint.js';
import type { JobName, Pipeline, SourceName } from '../core/pipeline.js';
import type { BuildRef, SourceHead } from '../core/scheduler/index.js';
import { MemorySnapshot } from '../scheduler/scheduler-state.js';
import type { SchedulerState } from '../store/ports.js';

/**
 * The "state" column of scheduler scenario tables (CONVENTIONS §12): heads and builds written
 * as data, turned into the snapshot the scheduler reads. Build ids are 1, 2, 3… in the order
 * given; head `seq` follows the order given too (later = newer).
 */
export interface GivenHead {
  readonly source: SourceName;
  readonly version: string;
  /** Default: the source's first branch for git sources, `null` otherwise. */
  readonly ref?: string | null;
  readonly producedBy?: number | null;
}

export interface GivenBuild {
  readonly job: JobName;
  readonly state: BuildState;
  /** Source → version; the fingerprint is computed from these and the job's definition. */
  readonly inputs: Readonly<Record<SourceName, string>>;
  readonly forced?: boolean;
  /** The build was made with another definition (a reload changed the job since). */
  readonly definitionHash?: string;
  /** Branch of its git inputs (its concurrency group); default each source's first branch. */
  readonly ref?: string;
}

export interface Given {
  readonly heads?: readonly GivenHead[];
  readonly builds?: readonly GivenBuild[];
}

/** What `loadSchedulerState` would return for these rows. */
function givenState(pipeline: Pipeline, given: Given = {}): SchedulerState {
  const heads: SourceHead[] = (given.heads ?? []).map((h, i) => {
    const def = pipeline.sources.get(h.source);
    return {
      source: h.source,
      version: h.version,
      ref: h.ref !== undefined ? h.ref : def?.kind === 'git' ? (def.branches[0] ?? null) : null,
      eventId: null,
      origin: h.producedBy != null ? 'output' : 'webhook',
      seq: i + 1,
      producedBy: h.producedBy ?? null,
    };
  });
  const builds = (given.builds ?? []).map((b, i) => {
    const hash = b.definitionHash ?? jobHash(pipeline, b.job);
    const set = Object.entries(b.inputs).map(([source, version]) => ({ source, version }));
    const ref: BuildRef = {
      id: i + 1,
      job: b.job,
      state: b.state,
      fingerprint: fingerprint(hash, set),
      forced: b.forced ?? false,
      group: groupOf(pipeline, b),
    };
    return { ref, hash };
  });
  const counted = builds.map((b) => b.ref).filter((b) => isCounted(b.state));
  const last = new Map<JobName, string>();
  for (const b of builds) if (b.ref.state !== 'skipped') last.set(b.ref.job, b.hash);
  return {
    heads,
    activeBuilds: counted.filter((b) => b.state === 'queued' || b.state === 'running'),
    builtFingerprints: counted,
    lastDefinitionHash: last,
    pendingSettles: [],
  };
}

/** The snapshot the scheduler reads for `given`: the engine's own `MemorySnapshot`. */
export function givenSnapshot(pipeline: Pipeline, given: Given = {}): MemorySnapshot {
  return new MemorySnapshot(pipeline, givenState(pipeline, given));
}

/** The fingerprint `job` has for `inputs` under `pipeline`, for asserting on decisions. */
export function fingerprintOf(
  pipeline: Pipeline,
  job: JobName,
  inputs: Readonly<Record<SourceName, string>>,
): string {
  return fingerprint(
    jobHash(pipeline, job),
    Object.entries(inputs).map(([source, version]) => ({ source, version })),
  );
}

function jobHash(pipeline: Pipeline, job: JobName): string {
  const def = pipeline.jobs.get(job);
  if (!def) throw new Error(`no job "${job}" in the pipeline`);
  return definitionHash(def);
}

/** Scheduler events with readable defaults (id 1, received at 0). */
export const events = {
  source(
    source: SourceName,
    version: string,
    opts: {
      ref?: string | null;
      origin?: EventOrigin;
      changedPaths?: readonly string[] | null;
      producedBy?: number | null;
      ancestry?: Ancestry | null;
      request?: RequestFacts;
      id?: number;
      at?: number;
    } = {},
  ): SourceEvent {
    return {
      kind: 'source',
      id: opts.id ?? 1,
      source,
      version,
      origin: opts.origin ?? (opts.producedBy != null ? 'output' : 'webhook'),
      receivedAt: opts.at ?? 0,
      ref: opts.ref ?? null,
      changedPaths: opts.changedPaths ?? null,
      producedBy: opts.producedBy ?? null,
      ancestry: opts.ancestry ?? null,
      ...(opts.request === undefined ? {} : { request: opts.request }),
    };
  },
  trigger(
    job: JobName,
    opts: {
      force?: boolean;
      by?: string | null;
      id?: number;
      pins?: readonly PinnedInput[];
      rebuildOf?: number | null;
    } = {},
  ): TriggerEvent {
    return {
      kind: 'trigger',
      id: opts.id ?? 1,
      job,
      force: opts.force ?? false,
      by: opts.by ?? null,
      pins: opts.pins ?? [],
      rebuildOf: opts.rebuildOf ?? null,
      receivedAt: 0,
    };
  },
  reconcile(id = 1): ReconcileEvent {
    return { kind: 'reconcile', id, receivedAt: 0 };
  },
  settle(job: JobName, id = 1): SettleEvent {
    return { kind: 'settle', id, job, receivedAt: 0 };
  },
};

/** The group of a given build, its git inputs on their source's first branch. */
function groupOf(pipeline: Pipeline, b: GivenBuild): string {
  const job = pipeline.jobs.get(b.job);
  if (!job) return b.job;
  const inputs = Object.entries(b.inputs).map(([source, version]) => {
    const def = pipeline.sources.get(source);
    const ref = def?.kind === 'git' ? (b.ref ?? def.branches[0] ?? null) : null;
    return { source, version, ref, origin: null, eventId: null };
  });
  return concurrencyGroup(pipeline, job, inputs);
}
