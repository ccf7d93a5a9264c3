import type { Logger } from 'pino';
import { ContentStore } from '../artifacts/content-store.js';
import { logPath, readLog } from '../executor/log-reader.js';
import { LogShipper } from '../executor/log-shipper.js';
import { sharedLogReader } from '../executor/shared-log-reader.js';
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
}

/**
 * Where a server keeps build logs and artifact blobs. On PostgreSQL (`store` given) the database
 * holds a copy of every log and blob besides the data directory, so any replica serves them
 * (docs/deploy.md, "Logs and artifacts"). The embedded store keeps its files only: one server
 * per data directory, so a second copy in the SQLite file would only double the disk used.
 */
export function sharedFiles(
  store: Pick<Store, 'logs' | 'blobs'> | null,
  dataDir: string,
  logger: Logger,
): SharedFiles {
  if (store === null)
    return {
      logShipper: null,
      artifacts: new ContentStore(dataDir),
      readLog,
      replica: {},
      retention: {},
    };
  const logShipper = new LogShipper({
    store: store.logs,
    logFile: (id) => logPath(dataDir, id),
    onError: (err, build) =>
      logger.warn({ err, build }, 'copying a log to the database failed; retrying'),
    isUnavailable: isStoreUnavailable,
  });
  return {
    logShipper,
    artifacts: new ContentStore(dataDir, { shared: store.blobs }),
    readLog: sharedLogReader(store.logs),
    replica: { logReplica: logShipper },
    retention: { sharedLogs: store.logs },
  };
}
