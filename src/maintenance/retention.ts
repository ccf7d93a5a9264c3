import { readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { ContentStore } from '../artifacts/content-store.js';
import type { Pipeline } from '../core/pipeline.js';
import {
  historyHorizon,
  planRetention,
  retentionOf,
  type RetentionPlan,
} from '../core/retention.js';
import type {
  ArtifactIndexPort,
  DeliveryPort,
  HistoryKind,
  ReadPort,
  RetentionPort,
  SharedLogPort,
} from '../store/ports.js';
import { runArtifactGc } from './artifact-gc.js';

/** Row kinds retention deletes, as `nightless_retention_deleted_rows_total{kind}` labels them. */
export const RETAINED_KINDS = [
  'builds',
  'decisions',
  'versions',
  'events',
  'outbox',
  'deliveries',
  'artifacts',
] as const;
export type RetainedKind = (typeof RETAINED_KINDS)[number];

export interface RetentionReport {
  /** Rows deleted, by kind (`artifacts`: artifact index rows; their blobs are in `bytes`). */
  readonly rows: Readonly<Record<RetainedKind, number>>;
  /** Bytes freed on disk: build log files and artifact blobs. */
  readonly bytes: { readonly logs: number; readonly artifacts: number };
  readonly ms: number;
  /** The longest single batch (one transaction): how long others' writes waited at most. */
  readonly longestBatchMs: number;
}

export interface RetentionOptions {
  readonly store: {
    readonly retention: RetentionPort;
    readonly artifacts: ArtifactIndexPort;
    readonly read: Pick<ReadPort, 'lastOutboxId'>;
  };
  readonly deliveries: Pick<DeliveryPort, 'listCursors'>;
  readonly artifacts: ContentStore;
  readonly pipeline: Pipeline;
  /** Keys of the report targets configured now: only their cursors hold outbox rows back. */
  readonly reportTargets: readonly string[];
  /** Path of a build's log file. */
  readonly logFile: (buildId: number) => string;
  /** The database's copy of the logs (PostgreSQL installations): deleted with the files. */
  readonly sharedLogs?: Pick<SharedLogPort, 'deleteLogs'>;
  /** Told which builds were deleted (the scheduler forgets their fingerprints). */
  readonly onBuildsDeleted?: (
    builds: ReadonlyArray<{ readonly id: number; readonly fingerprint: string }>,
  ) => void;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Builds per delete transaction (default 50); history rows examined per batch (default 200). */
  readonly buildBatch?: number;
  readonly historyBatch?: number;
  /** Artifact blobs younger than this are never removed (default 1 h, see `collectGarbage`). */
  readonly blobMinAgeMs?: number;
  /** Stop after this many batches in total (a bound on one run; the next run continues). */
  readonly maxBatches?: number;
}

const HISTORY: readonly HistoryKind[] = ['decisions', 'versions', 'events', 'outbox'];

/** Lets requests and the scheduler run between two batches. */
const yieldToOthers = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * One retention run (docs/operations.md, "Retention"): plans which builds go (core's
 * `planRetention`), deletes them in batches with their log files, then the history rows nothing
 * needs any more (decisions, versions, processed events, delivered outbox rows and their
 * deliveries), then artifact files via the artifact GC. Every batch is one short transaction and
 * the event loop is yielded between batches. Safe to interrupt at any point: what is left is
 * deleted by the next run. Not safe to run twice at once (callers serialize).
 */
export async function runRetention(opts: RetentionOptions): Promise<RetentionReport> {
  const started = Date.now();
  const now = (opts.now ?? Date.now)();
  const { store, pipeline, logger } = opts;
  const rows: Record<RetainedKind, number> = {
    builds: 0,
    decisions: 0,
    versions: 0,
    events: 0,
    outbox: 0,
    deliveries: 0,
    artifacts: 0,
  };
  let logBytes = 0;
  let batches = 0;
  let longestBatchMs = 0;
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      longestBatchMs = Math.max(longestBatchMs, performance.now() - t0);
    }
  };
  const budgetLeft = (): boolean => batches < (opts.maxBatches ?? Infinity);

  const policyOf = (job: string) => retentionOf(pipeline, job);
  const facts = await store.retention.retentionFacts();
  const plan: RetentionPlan = planRetention(facts, policyOf, now);
  const buildBatch = opts.buildBatch ?? 50;
  const deletedIds = new Set<number>();
  for (let i = 0; i < plan.delete.length && budgetLeft(); i += buildBatch) {
    const deleted = await timed(() =>
      store.retention.deleteBuilds(plan.delete.slice(i, i + buildBatch)),
    );
    batches += 1;
    rows.builds += deleted.builds.length;
    rows.decisions += deleted.decisions;
    opts.onBuildsDeleted?.(deleted.builds);
    for (const b of deleted.builds) deletedIds.add(b.id);
    for (const b of deleted.builds) logBytes += await removeFile(opts.logFile(b.id), logger);
    if (opts.sharedLogs)
      logBytes += await opts.sharedLogs.deleteLogs(deleted.builds.map((b) => b.id));
    await yieldToOthers();
  }
  // Log files of builds deleted by a run that stopped before removing them (crash).
  if (budgetLeft()) {
    const remaining = new Set(facts.builds.map((b) => b.id));
    for (const id of deletedIds) remaining.delete(id);
    const newest = Math.max(0, ...facts.builds.map((b) => b.id));
    logBytes += await sweepOrphanLogs(opts.logFile, remaining, newest, logger);
  }

  const neverBuilt = (job: string): number => {
    // A job without builds keeps its history unless an age limit says otherwise.
    const { ageMs } = policyOf(job);
    return ageMs === null ? -Infinity : now - ageMs;
  };
  const deliveredUpTo = await deliveredOutboxId(opts);
  for (const kind of HISTORY) {
    let afterId = 0;
    for (let done = false; !done && budgetLeft();) {
      const batch = await timed(() =>
        store.retention.pruneHistory(
          kind,
          afterId,
          opts.historyBatch ?? 200,
          (row) => {
            // Outbox rows are deletable once their build is gone and they were delivered.
            if (kind === 'outbox') return true;
            return row.at < historyHorizon(plan, row, pipeline.consumers, neverBuilt);
          },
          deliveredUpTo,
        ),
      );
      batches += 1;
      rows[kind] += batch.deleted;
      rows.deliveries += batch.deliveries;
      afterId = batch.lastId;
      done = batch.done;
      await yieldToOthers();
    }
  }

  const gc = await runArtifactGc({
    store: store.artifacts,
    artifacts: opts.artifacts,
    keepBuildsPerJob: (job) => policyOf(job).artifacts,
    logger,
    ...(opts.blobMinAgeMs === undefined ? {} : { minAgeMs: opts.blobMinAgeMs }),
  });
  rows.artifacts += gc.rowsDeleted;
  const report: RetentionReport = {
    rows,
    bytes: { logs: logBytes, artifacts: gc.bytesFreed },
    ms: Date.now() - started,
    longestBatchMs: Math.round(longestBatchMs),
  };
  logger.info({ ...report, kept: plan.kept.size, complete: budgetLeft() }, 'retention run done');
  return report;
}

/** The slowest configured report target's cursor; with no targets, everything is delivered. */
async function deliveredOutboxId(opts: RetentionOptions): Promise<number> {
  const last = await opts.store.read.lastOutboxId();
  const wanted = new Set(opts.reportTargets);
  let min = last;
  for (const c of await opts.deliveries.listCursors())
    if (wanted.has(c.target)) min = Math.min(min, c.lastOutboxId);
  return min;
}

/**
 * Removes a file and returns its size; a file already gone counts 0, one that cannot be removed
 * is logged and counts 0 (the rows are gone already; the sweep retries it next run).
 */
async function removeFile(path: string, logger: Logger): Promise<number> {
  try {
    const { size } = await stat(path);
    await unlink(path);
    return size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.warn({ err, path }, 'retention could not remove a log file');
    return 0;
  }
}

/** `<id>.log` files of builds at most `newest` that no longer exist. */
async function sweepOrphanLogs(
  logFile: (buildId: number) => string,
  existing: ReadonlySet<number>,
  newest: number,
  logger: Logger,
): Promise<number> {
  const dir = dirname(logFile(0));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let freed = 0;
  for (const name of names) {
    const m = /^(\d+)\.log$/.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    if (id > newest || existing.has(id) || logFile(id) !== join(dir, name)) continue;
    freed += await removeFile(join(dir, name), logger);
  }
  return freed;
}
