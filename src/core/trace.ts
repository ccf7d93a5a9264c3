import { isFinished, type Build } from './build.js';
import type { JobName, SourceName } from './pipeline.js';

/**
 * "Where is my change now?" — the pure half of a trace. The shell (`read/trace.ts`) loads a
 * {@link TraceGraph} from the store; these functions shape it into a tree and estimate finish times.
 */

export interface VersionRef {
  readonly source: SourceName;
  readonly version: string;
}

export interface TraceNode {
  readonly build: Build;
  /** The version (the root, or an upstream build's output) through which this build was reached. */
  readonly via: VersionRef;
  /** For queued/running builds: when it should finish, from the job's recent durations; else `null`. */
  readonly estimatedFinishAt: number | null;
  /**
   * Set when the build was reached through an output identical to an earlier build's: it was
   * not rebuilt for this version, it is build `identicalOutputOf`'s downstream (early cutoff).
   * Its own downstream is not listed.
   */
  readonly reused: { readonly identicalOutputOf: number } | null;
  readonly children: readonly TraceNode[];
  /** Jobs fed by this unfinished build's outputs, not queued yet, with an estimate each. */
  readonly expected: readonly ExpectedJob[];
}

/** A job a still-unfinished build will feed: it has no build yet, only an estimate. */
export interface ExpectedJob {
  readonly job: JobName;
  /** The output source (`build.dist`) it consumes. */
  readonly via: SourceName;
  /** The feeding build's estimate plus this job's median duration; null without history. */
  readonly estimatedFinishAt: number | null;
  readonly expected: readonly ExpectedJob[];
}

/** What the walk found: who used each version, and what each build produced. */
export interface TraceGraph {
  /** Key `source@version` → builds whose inputs include it, oldest first. */
  readonly usersOf: ReadonlyMap<string, readonly Build[]>;
  /** Build id → output versions it produced. */
  readonly producedBy: ReadonlyMap<number, readonly VersionRef[]>;
  /** Key `source@version` of an output → the first build that produced it (absent: unknown). */
  readonly firstProducerOf?: ReadonlyMap<string, number>;
}

/** Deep enough for any real pipeline; a bound so a corrupt history can't grow a tree forever. */
export const MAX_TRACE_DEPTH = 20;

export function versionKey(v: VersionRef): string {
  return `${v.source}@${v.version}`;
}

/** The median of a sample, `null` for an empty one (no history means no estimate). */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? 0;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2;
}

/**
 * When an unfinished build should finish: its start (or `now`, when still queued) plus the median
 * of the job's recent durations. The median, not the mean: one hung build must not skew it.
 */
export function estimateFinishAt(
  build: Build,
  recentDurationsMs: readonly number[] | undefined,
  now: number,
): number | null {
  if (isFinished(build.state)) return null;
  const typical = median(recentDurationsMs ?? []);
  if (typical === null) return null;
  // An overdue build yields a time in the past on purpose: clients can show "overdue".
  return (build.startedAt ?? now) + typical;
}

/**
 * Breadth-first walk from `root`: a build appears once, under the first (shallowest) version
 * that reached it, and each version is expanded once — so diamonds don't duplicate subtrees and
 * a cycle in corrupt data can't loop. Depth is bounded by `maxDepth` (root builds are depth 1).
 * `estimate` supplies `estimatedFinishAt` per build.
 */
export function assembleTrace(
  graph: TraceGraph,
  root: VersionRef,
  estimate: (build: Build) => number | null,
  maxDepth: number = MAX_TRACE_DEPTH,
  expect: (build: Build, finishAt: number | null) => readonly ExpectedJob[] = () => [],
): TraceNode[] {
  interface Mutable {
    build: Build;
    via: VersionRef;
    estimatedFinishAt: number | null;
    reused: { identicalOutputOf: number } | null;
    children: Mutable[];
    expected: readonly ExpectedJob[];
  }
  const seenBuilds = new Set<number>();
  const seenVersions = new Set<string>([versionKey(root)]);
  const top: Mutable[] = [];
  type Step = { via: VersionRef; into: Mutable[]; reusedFrom: number | null };
  let frontier: Step[] = [{ via: root, into: top, reusedFrom: null }];
  for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
    const next: Step[] = [];
    for (const { via, into, reusedFrom } of frontier) {
      for (const build of graph.usersOf.get(versionKey(via)) ?? []) {
        if (seenBuilds.has(build.id)) continue;
        seenBuilds.add(build.id);
        const finishAt = estimate(build);
        const node: Mutable = {
          build,
          via,
          estimatedFinishAt: finishAt,
          reused: reusedFrom === null ? null : { identicalOutputOf: reusedFrom },
          children: [],
          expected: reusedFrom === null && !isFinished(build.state) ? expect(build, finishAt) : [],
        };
        into.push(node);
        // A reused build ran for another version: what it caused is not this version's doing.
        if (reusedFrom !== null) continue;
        for (const out of graph.producedBy.get(build.id) ?? []) {
          const key = versionKey(out);
          if (seenVersions.has(key)) continue;
          seenVersions.add(key);
          const first = graph.firstProducerOf?.get(key);
          const reused = first !== undefined && first !== build.id ? first : null;
          next.push({ via: out, into: node.children, reusedFrom: reused });
        }
      }
    }
    frontier = next;
  }
  return top;
}

/**
 * The jobs an unfinished build of `job` will feed, transitively (each job once, bounded by
 * `maxDepth`): each finishes an estimated median duration after its feeder.
 */
export function expectedDownstream(
  job: JobName,
  finishAt: number | null,
  consumersOfJob: (job: JobName) => ReadonlyArray<{ job: JobName; via: SourceName }>,
  typicalMs: (job: JobName) => number | null,
  maxDepth: number = MAX_TRACE_DEPTH,
): ExpectedJob[] {
  const seen = new Set<JobName>([job]);
  const walk = (from: JobName, at: number | null, depth: number): ExpectedJob[] => {
    if (depth > maxDepth) return [];
    const out: ExpectedJob[] = [];
    for (const c of consumersOfJob(from)) {
      if (seen.has(c.job)) continue;
      seen.add(c.job);
      const typical = typicalMs(c.job);
      const eta = at === null || typical === null ? null : at + typical;
      out.push({ job: c.job, via: c.via, estimatedFinishAt: eta, expected: [] });
      const last = out[out.length - 1];
      if (last) out[out.length - 1] = { ...last, expected: walk(c.job, eta, depth + 1) };
    }
    return out;
  };
  return walk(job, finishAt, 1);
}

/**
 * Finish estimates for every queued and running build, as the slots will take them: running
 * builds free their slot at start + median (or now, when overdue); queued builds start, oldest
 * first, in the first slot to free up. A queued build's estimate counts the builds ahead of it
 * and the number of slots. A build ahead without history counts as instant (so the estimate is a
 * lower bound then); a build without history of its own gets `null`.
 */
export function queueEstimates(
  active: readonly Build[],
  slots: number,
  typicalMs: (job: JobName) => number | null,
  now: number,
): Map<number, number | null> {
  const result = new Map<number, number | null>();
  const free: number[] = [];
  const running = active.filter((b) => b.state === 'running');
  const queued = active.filter((b) => b.state === 'queued').sort((a, b) => a.id - b.id);
  for (const b of running) {
    const typical = typicalMs(b.job);
    const at = typical === null ? null : (b.startedAt ?? now) + typical;
    result.set(b.id, at);
    free.push(Math.max(now, at ?? now));
  }
  // Idle slots are free now; more running builds than slots (fewer `--slots` after a restart)
  // still hold theirs until they finish.
  while (free.length < Math.max(1, slots)) free.push(now);
  for (const b of queued) {
    free.sort((x, y) => x - y);
    const start = free.shift() ?? now;
    const typical = typicalMs(b.job);
    result.set(b.id, typical === null ? null : start + typical);
    free.push(start + (typical ?? 0));
  }
  return result;
}
