import { isFinished, type Build } from './build.js';
import type { SourceName } from './pipeline.js';

/**
 * "Where is my change now?" — the pure half of a trace. The shell (`engine/trace.ts`) loads a
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
  readonly children: readonly TraceNode[];
}

/** What the walk found: who used each version, and what each build produced. */
export interface TraceGraph {
  /** Key `source@version` → builds whose inputs include it, oldest first. */
  readonly usersOf: ReadonlyMap<string, readonly Build[]>;
  /** Build id → output versions it produced. */
  readonly producedBy: ReadonlyMap<number, readonly VersionRef[]>;
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
): TraceNode[] {
  interface Mutable {
    build: Build;
    via: VersionRef;
    estimatedFinishAt: number | null;
    children: Mutable[];
  }
  const seenBuilds = new Set<number>();
  const seenVersions = new Set<string>([versionKey(root)]);
  const top: Mutable[] = [];
  let frontier: Array<{ via: VersionRef; into: Mutable[] }> = [{ via: root, into: top }];
  for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
    const next: typeof frontier = [];
    for (const { via, into } of frontier) {
      for (const build of graph.usersOf.get(versionKey(via)) ?? []) {
        if (seenBuilds.has(build.id)) continue;
        seenBuilds.add(build.id);
        const node: Mutable = { build, via, estimatedFinishAt: estimate(build), children: [] };
        into.push(node);
        for (const out of graph.producedBy.get(build.id) ?? []) {
          const key = versionKey(out);
          if (seenVersions.has(key)) continue;
          seenVersions.add(key);
          next.push({ via: out, into: node.children });
        }
      }
    }
    frontier = next;
  }
  return top;
}
