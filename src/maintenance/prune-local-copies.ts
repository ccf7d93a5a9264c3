import { readdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ContentStore } from '../artifacts/content-store.js';
import type { ArtifactIndexPort, RetentionPort } from '../store/ports.js';

export interface LocalCopiesOptions {
  readonly store: {
    readonly retention: Pick<RetentionPort, 'existingBuilds'>;
    readonly artifacts: Pick<ArtifactIndexPort, 'referencedDigests'>;
  };
  readonly artifacts: ContentStore;
  /** Path of a build's log file. */
  readonly logFile: (buildId: number) => string;
  readonly logger: Logger;
  /** Files modified more recently than this are kept (default 1 h, as the artifact GC's grace). */
  readonly minAgeMs?: number;
  /** Files examined per database question (default 200, at most 500). */
  readonly batch?: number;
  /** Batches in one run, logs and blobs together (default 100); the next run continues. */
  readonly maxBatches?: number;
  /** Checked between batches: a server that stops ends the run there. */
  readonly stopped?: () => boolean;
  readonly now?: number;
}

export interface LocalCopiesReport {
  readonly logs: { readonly files: number; readonly bytes: number };
  readonly blobs: { readonly files: number; readonly bytes: number };
  /** False when the run stopped at `maxBatches` (or the server stopped) before it was done. */
  readonly complete: boolean;
}

/** Lets requests and builds run between two batches. */
const yieldToOthers = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Prunes a replica's local copies of what the database no longer holds (docs/deploy.md, "Logs
 * and artifacts"). Only the leader runs retention and the artifact GC, which delete the
 * database's rows and the leader's own files; every replica runs this for its data directory:
 *
 * - a log file whose build retention deleted (its `builds` row is gone) — a running build's row
 *   always exists, so a log being written is never one;
 * - a blob no `artifacts` row names (the artifact GC's rule, which deletes the database's copy).
 *
 * Files modified within `minAgeMs` are kept (a blob stored or fetched just now may not be
 * referenced yet), and so are blobs this process reads, links or fetches now
 * ({@link ContentStore.inUse}). A reader that has a file open keeps reading it after the unlink;
 * one that opens it just after falls back to the database (logs) or fetches it again (blobs).
 */
export async function pruneLocalCopies(opts: LocalCopiesOptions): Promise<LocalCopiesReport> {
  const batchSize = Math.min(500, Math.max(1, opts.batch ?? 200));
  const cutoff = (opts.now ?? Date.now()) - (opts.minAgeMs ?? 60 * 60 * 1000);
  let batches = 0;
  const more = (): boolean => batches < (opts.maxBatches ?? 100) && !(opts.stopped?.() ?? false);

  const logs = { files: 0, bytes: 0 };
  let batch: Array<{ id: number; path: string; size: number }> = [];
  const flushLogs = async (): Promise<void> => {
    batches += 1;
    const existing = await opts.store.retention.existingBuilds(batch.map((f) => f.id));
    for (const f of batch) {
      if (existing.has(f.id) || !(await removed(f.path, opts.logger))) continue;
      logs.files += 1;
      logs.bytes += f.size;
    }
    batch = [];
    await yieldToOthers();
  };
  const logDir = dirname(opts.logFile(0));
  for (const name of await readdirOrEmpty(logDir)) {
    if (!more()) break;
    const m = /^(\d+)\.log$/.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    const path = opts.logFile(id);
    const st = await stat(path).catch(() => null);
    if (st === null || !st.isFile() || st.mtimeMs > cutoff) continue;
    batch.push({ id, path, size: st.size });
    if (batch.length >= batchSize) await flushLogs();
  }
  if (batch.length > 0 && more()) await flushLogs();

  const blobs = { files: 0, bytes: 0 };
  let digests: Array<{ digest: string; size: number }> = [];
  const flushBlobs = async (): Promise<void> => {
    batches += 1;
    const kept = await opts.store.artifacts.referencedDigests(digests.map((d) => d.digest));
    for (const d of digests) {
      // Checked again right before the unlink: a read may have started during the query.
      if (kept.has(d.digest) || opts.artifacts.inUse(d.digest)) continue;
      if (!(await removed(opts.artifacts.pathOf(d.digest), opts.logger))) continue;
      blobs.files += 1;
      blobs.bytes += d.size;
    }
    digests = [];
    await yieldToOthers();
  };
  for await (const digest of opts.artifacts.list()) {
    if (!more()) break;
    const st = await stat(opts.artifacts.pathOf(digest)).catch(() => null);
    if (st === null || st.mtimeMs > cutoff || opts.artifacts.inUse(digest)) continue;
    digests.push({ digest, size: st.size });
    if (digests.length >= batchSize) await flushBlobs();
  }
  if (digests.length > 0 && more()) await flushBlobs();

  return { logs, blobs, complete: more() };
}

/** Unlinks `path`; false when it was gone already or cannot be removed (logged; next run retries). */
async function removed(path: string, logger: Logger): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.warn({ err, path }, 'pruning a local copy failed');
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
