import type { BuildState } from './build.js';
import type { JobName, SourceName } from './pipeline.js';

/**
 * What a pipeline (or one job) keeps. `null` means "no limit of that kind"; with both limits
 * `null` nothing is deleted (the default: history is kept until someone says otherwise).
 */
export interface RetentionPolicy {
  /** The newest builds kept per job (every state counts); older ones are deleted. */
  readonly builds: number | null;
  /** Builds that finished (or were queued, if they never finished) longer ago are deleted. */
  readonly ageMs: number | null;
  /** The newest builds per job that ran whose artifact files are kept (never more than `builds`). */
  readonly artifacts: number;
}

/** Builds per job whose artifact files are kept when nothing is configured. */
export const DEFAULT_ARTIFACT_BUILDS = 20;

export const KEEP_EVERYTHING: RetentionPolicy = Object.freeze({
  builds: null,
  ageMs: null,
  artifacts: DEFAULT_ARTIFACT_BUILDS,
});

/** What the planner needs to know about one stored build. */
export interface BuildFact {
  readonly id: number;
  readonly job: JobName;
  readonly state: BuildState;
  /** When it finished, or when it was queued if it never finished (epoch ms). */
  readonly at: number;
}

export interface RetentionFacts {
  readonly builds: readonly BuildFact[];
  /** Builds that produced a current head of a job-output source (`outputFiles` reads them). */
  readonly headProducers: readonly number[];
  /** Build → the builds that produced its job-output inputs. */
  readonly inputProducers: ReadonlyMap<number, readonly number[]>;
}

/** Why a build survives; the first that applies is reported. */
export type KeepReason =
  'active' | 'newest' | 'newest-passed' | 'window' | 'head-producer' | 'input-producer';

export interface RetentionPlan {
  /** Build ids to delete, ascending. */
  readonly delete: readonly number[];
  readonly kept: ReadonlyMap<number, KeepReason>;
  /**
   * Per job: history (decisions, events, versions, outbox) of that job older than this is not
   * needed any more — the oldest build its window keeps. `-Infinity`: keep all history.
   */
  readonly horizon: ReadonlyMap<JobName, number>;
}

const ACTIVE: ReadonlySet<BuildState> = new Set(['queued', 'running']);

/**
 * Which builds retention deletes. Per job, newest first, a build is kept when it is
 *
 *  - queued or running;
 *  - the newest build of its job (its current status), and its newest build that was not skipped
 *    (after a restart the scheduler reads the job's last definition hash from it — without it
 *    the job would be rebuilt);
 *  - the newest passed build of its job (whatever its age or rank);
 *  - inside the window: among the newest `builds` of its job (when set) and not older than
 *    `ageMs` (when set) — both limits apply;
 *  - the producer of a current job-output head, or (transitively) of a job-output input of a
 *    build kept for any of these reasons.
 *
 * Every other build is deleted. Pure and deterministic: the same facts, policies and `now` give
 * the same plan.
 */
export function planRetention(
  facts: RetentionFacts,
  policyOf: (job: JobName) => RetentionPolicy,
  now: number,
): RetentionPlan {
  const byJob = new Map<JobName, BuildFact[]>();
  for (const b of facts.builds) {
    const list = byJob.get(b.job);
    if (list) list.push(b);
    else byJob.set(b.job, [b]);
  }
  const kept = new Map<number, KeepReason>();
  const horizon = new Map<JobName, number>();
  for (const [job, list] of byJob) {
    list.sort((a, b) => b.id - a.id);
    const policy = policyOf(job);
    const unlimited = policy.builds === null && policy.ageMs === null;
    const oldestAllowed = policy.ageMs === null ? -Infinity : now - policy.ageMs;
    let newestPassed = true;
    let newestNotSkipped = true;
    let windowStart = Infinity;
    list.forEach((b, rank) => {
      const inWindow =
        unlimited || ((policy.builds === null || rank < policy.builds) && b.at >= oldestAllowed);
      if (inWindow) windowStart = Math.min(windowStart, b.at);
      if (ACTIVE.has(b.state)) kept.set(b.id, 'active');
      else if (rank === 0 || (b.state !== 'skipped' && newestNotSkipped)) kept.set(b.id, 'newest');
      else if (b.state === 'passed' && newestPassed) kept.set(b.id, 'newest-passed');
      else if (inWindow) kept.set(b.id, 'window');
      if (b.state === 'passed') newestPassed = false;
      if (b.state !== 'skipped') newestNotSkipped = false;
    });
    horizon.set(
      job,
      unlimited ? -Infinity : windowStart === Infinity ? oldestAllowed : windowStart,
    );
  }
  for (const id of facts.headProducers) if (!kept.has(id)) kept.set(id, 'head-producer');
  // A kept build's job-output inputs stay resolvable: their producers are kept, transitively.
  const todo = [...kept.keys()];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const producer of facts.inputProducers.get(id) ?? []) {
      if (kept.has(producer)) continue;
      kept.set(producer, 'input-producer');
      todo.push(producer);
    }
  }
  const present = new Set(facts.builds.map((b) => b.id));
  const del = facts.builds
    .map((b) => b.id)
    .filter((id) => !kept.has(id))
    .sort((a, b) => a - b);
  // Producers named by heads or inputs but already gone are not "kept" builds of this store.
  for (const id of [...kept.keys()]) if (!present.has(id)) kept.delete(id);
  return { delete: del, kept, horizon };
}

/**
 * The history horizon of a row that belongs to `job`, or (source-level rows) to `source`: the
 * oldest horizon among the jobs that consume it; rows of neither use the oldest of all jobs.
 * Jobs never built keep all their history (`-Infinity`) unless an age limit says otherwise.
 */
export function historyHorizon(
  plan: Pick<RetentionPlan, 'horizon'>,
  owner: { readonly job: JobName | null; readonly source: SourceName | null },
  consumers: ReadonlyMap<SourceName, readonly JobName[]>,
  neverBuilt: (job: JobName) => number,
): number {
  const of = (job: JobName): number => plan.horizon.get(job) ?? neverBuilt(job);
  if (owner.job !== null) return of(owner.job);
  const jobs =
    owner.source !== null && (consumers.get(owner.source)?.length ?? 0) > 0
      ? (consumers.get(owner.source) ?? [])
      : [...plan.horizon.keys()];
  if (jobs.length === 0) return -Infinity;
  return Math.min(...jobs.map(of));
}

/** The policy of `job`: its own, else the pipeline's, else keep everything. */
export function retentionOf(
  pipeline: {
    readonly retention?: RetentionPolicy;
    readonly jobs: ReadonlyMap<JobName, { readonly retention?: RetentionPolicy }>;
  },
  job: JobName,
): RetentionPolicy {
  return pipeline.jobs.get(job)?.retention ?? pipeline.retention ?? KEEP_EVERYTHING;
}
