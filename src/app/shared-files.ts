import type { Logger } from 'pino';
import { ContentStore } from '../artifacts/content-store.js';
import { logPath, readLog } from '../executor/log-reader.js';
import { LogShipper } from '../executor/log-shipper.js';
import { sharedLogReader } from '../executor/shared-log-reader.js';
import { pruneLocalCopies, type LocalCopiesReport } from '../maintenance/prune-local-copies.js';
import type { SharedLogPort, Store } from '../store/ports.js';
import { isStoreUnavailable } from '../store/ports/unavailable.js';

export interface SharedFiles {
  /** Copies logs into the database as they grow; null on the embedded store. */
  readonly logShipper: LogShipper | null;
  readonly artifacts: ContentStore;
  readonly readLog: typeof readLog;
  /** For the executor and the agents' runner: where logs are copied (none on the embedded store). */
  readonly replica: { readonly logReplica?: LogShipper };
  /** For retention: the database's logs, deleted with their builds. */
  readonly retention: { readonly sharedLogs?: SharedLogPort };
  /**
   * One prune of this replica's local copies of logs and blobs the database no longer holds (also
   * run every retention interval); null on the embedded store, whose files are the only copy.
   */
  readonly pruneLocalCopies: (() => Promise<LocalCopiesReport | null>) | null;
  /** Copies the last log lines and stops pruning (waits for a prune under way). */
  stop(): Promise<void>;
}

/**
 * Where a server keeps build logs and artifact blobs. On PostgreSQL (`store` given) the database
 * holds a copy of every log and blob besides the data directory, so any replica serves them
 * (docs/deploy.md, "Logs and artifacts"), and each replica prunes its own copies of what
 * retention deleted from the database, every retention interval (default 1 h). The embedded store
 * keeps its files only: one server per data directory, so a second copy in the SQLite file would
 * only double the disk used.
 */
export function sharedFiles(
  store: Pick<Store, 'logs' | 'blobs' | 'retention' | 'artifacts'> | null,
  dataDir: string,
  logger: Logger,
  /** How often local copies are pruned: as often as retention runs (default 1 h). */
  timing: { readonly retentionIntervalMs?: number } = {},
): SharedFiles {
  const pruneEveryMs = timing.retentionIntervalMs ?? 60 * 60 * 1000;
  if (store === null)
    return {
      logShipper: null,
      artifacts: new ContentStore(dataDir),
      readLog,
      replica: {},
      retention: {},
      pruneLocalCopies: null,
      stop: () => Promise.resolve(),
    };
  const logShipper = new LogShipper({
    store: store.logs,
    logFile: (id) => logPath(dataDir, id),
    onError: (err, build) =>
      logger.warn({ err, build }, 'copying a log to the database failed; retrying'),
    isUnavailable: isStoreUnavailable,
  });
  const artifacts = new ContentStore(dataDir, { shared: store.blobs });
  let stopped = false;
  let running: Promise<LocalCopiesReport | null> = Promise.resolve(null);
  // One run at a time; a failed run (database away) is logged and the next one tries again.
  const prune = (): Promise<LocalCopiesReport | null> => {
    running = running.then(async () => {
      if (stopped) return null;
      try {
        const report = await pruneLocalCopies({
          store,
          artifacts,
          logFile: (id) => logPath(dataDir, id),
          logger,
          stopped: () => stopped,
        });
        if (report.logs.files + report.blobs.files > 0 || !report.complete)
          logger.info(report, 'pruned local copies of logs and blobs');
        return report;
      } catch (err) {
        logger.warn({ err }, 'pruning local copies of logs and blobs failed; next run retries');
        return null;
      }
    });
    return running;
  };
  // Soon after start (a replica restarted more often than hourly still prunes), then periodically.
  const first = setTimeout(() => void prune(), Math.min(pruneEveryMs, 60_000));
  const timer = setInterval(() => void prune(), pruneEveryMs);
  first.unref();
  timer.unref();
  return {
    logShipper,
    artifacts,
    readLog: sharedLogReader(store.logs),
    replica: { logReplica: logShipper },
    retention: { sharedLogs: store.logs },
    pruneLocalCopies: prune,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
      await logShipper.stop();
    },
  };
}
