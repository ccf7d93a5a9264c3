import type { Build } from '../core/build.js';
import type { JobName, Pipeline, SourceName } from '../core/pipeline.js';
import {
  assembleTrace,
  estimateFinishAt,
  expectedDownstream,
  MAX_TRACE_DEPTH,
  median,
  queueEstimates,
  versionKey,
  type TraceGraph,
  type TraceNode,
  type VersionRef,
} from '../core/trace.js';
import type { ReadPort } from '../store/ports.js';
import { outputSourceName } from '../core/output-source.js';

export interface TraceResult {
  readonly source: SourceName;
  /** The full version the prefix resolved to. */
  readonly version: string;
  readonly nodes: readonly TraceNode[];
}

/** No version of the source starts with the prefix (or the source has no versions at all). */
export class VersionNotFoundError extends Error {
  readonly code = 'NL_NOT_FOUND';
  constructor(
    readonly source: SourceName,
    readonly prefix: string,
  ) {
    super(`no version of ${source} starts with "${prefix}"`);
    this.name = 'VersionNotFoundError';
  }
}

/** Several versions start with the prefix: the caller must say which one. */
export class AmbiguousVersionError extends Error {
  readonly code = 'NL_AMBIGUOUS';
  constructor(
    readonly source: SourceName,
    readonly prefix: string,
    /** Some of the matching versions (at most {@link CANDIDATE_LIMIT}). */
    readonly candidates: readonly string[],
  ) {
    super(`"${prefix}" matches several versions of ${source}: ${candidates.join(', ')}`);
    this.name = 'AmbiguousVersionError';
  }
}

const CANDIDATE_LIMIT = 10;

/**
 * Everything `source@versionPrefix` caused: the builds that used it, the outputs they produced,
 * the builds that used those, and so on (bounded by {@link MAX_TRACE_DEPTH}). Read-only; each store
 * call is its own transaction, so a trace taken while builds run is a consistent-enough picture.
 * Throws {@link VersionNotFoundError} / {@link AmbiguousVersionError}.
 */
export async function traceVersion(
  store: ReadPort,
  source: SourceName,
  versionPrefix: string,
  now: number,
  where: { readonly pipeline: Pipeline; readonly slots: number },
): Promise<TraceResult> {
  const version = await resolveVersion(store, source, versionPrefix);
  const root: VersionRef = { source, version };
  const graph = await loadGraph(store, root);
  const active = [
    ...(await store.listBuilds({ state: 'running', limit: ACTIVE_LIMIT })),
    ...(await store.listBuilds({ state: 'queued', limit: ACTIVE_LIMIT })),
  ];
  const jobs = new Set<JobName>([...where.pipeline.jobs.keys(), ...active.map((b) => b.job)]);
  const durations = new Map(
    (await store.jobStatuses([...jobs])).map((s) => [s.name, median(s.recentDurationsMs)]),
  );
  const typical = (job: JobName) => durations.get(job) ?? null;
  const queue = queueEstimates(active, where.slots, typical, now);
  const consumers = consumersOfJob(where.pipeline);
  const nodes = assembleTrace(
    graph,
    root,
    (b) => (queue.has(b.id) ? (queue.get(b.id) ?? null) : estimateFinishAt(b, [], now)),
    MAX_TRACE_DEPTH,
    (b, finishAt) => expectedDownstream(b.job, finishAt, consumers, typical),
  );
  return { source, version, nodes };
}

/** The most queued (and running) builds read for the queue estimate. */
const ACTIVE_LIMIT = 500;

/** Job → the jobs consuming one of its outputs, with that output's source name. */
function consumersOfJob(pipeline: Pipeline) {
  return (job: JobName): Array<{ job: JobName; via: SourceName }> => {
    const def = pipeline.jobs.get(job);
    if (!def) return [];
    return Object.keys(def.outputs).flatMap((output) => {
      const via = outputSourceName(job, output);
      return (pipeline.consumers.get(via) ?? []).map((c) => ({ job: c, via }));
    });
  };
}

/** The one version of `source` that `prefix` names (an exact match wins), or a typed error. */
export async function resolveVersion(
  store: Pick<ReadPort, 'findVersions'>,
  source: SourceName,
  prefix: string,
): Promise<string> {
  const found = await store.findVersions(source, prefix, CANDIDATE_LIMIT);
  // A version that is exactly the prefix wins over longer ones sharing it (`1.2` vs `1.2.1`).
  if (found.includes(prefix)) return prefix;
  const [only, ...rest] = found;
  if (only === undefined) throw new VersionNotFoundError(source, prefix);
  if (rest.length > 0) throw new AmbiguousVersionError(source, prefix, found);
  return only;
}

/** Breadth-first, with the same bounds as `assembleTrace`, so it never loads what won't be shown. */
async function loadGraph(store: ReadPort, root: VersionRef): Promise<TraceGraph> {
  const usersOf = new Map<string, Build[]>();
  const producedBy = new Map<number, VersionRef[]>();
  const seenVersions = new Set<string>([versionKey(root)]);
  let frontier: VersionRef[] = [root];
  for (let depth = 1; depth <= MAX_TRACE_DEPTH && frontier.length > 0; depth++) {
    const next: VersionRef[] = [];
    for (const v of frontier) {
      const users = await store.buildsUsing(v.source, v.version);
      usersOf.set(versionKey(v), users);
      for (const build of users) {
        if (producedBy.has(build.id)) continue;
        const outs = await store.producedVersions(build.id);
        producedBy.set(build.id, outs);
        for (const out of outs) {
          const key = versionKey(out);
          if (seenVersions.has(key)) continue;
          seenVersions.add(key);
          next.push(out);
        }
      }
    }
    frontier = next;
  }
  const firstProducerOf = new Map<string, number>();
  for (const outs of producedBy.values()) {
    for (const out of outs) {
      const key = versionKey(out);
      if (firstProducerOf.has(key)) continue;
      const first = await store.firstProducer(out.source, out.version);
      if (first !== null) firstProducerOf.set(key, first);
    }
  }
  return { usersOf, producedBy, firstProducerOf };
}
