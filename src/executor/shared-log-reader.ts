import { readLines, readLog, type LogChunk } from './log-reader.js';

/** What reading needs of the store (`SharedLogPort`), declared by its caller. */
export interface StoredLogs {
  logSize(buildId: number): Promise<number>;
  readLog(buildId: number, from: number, maxBytes: number): Promise<Buffer>;
}

/**
 * `readLog` for a replica of a PostgreSQL installation: from the local file while it has lines
 * past `fromOffset`, else from the database's copy (a build another replica ran, or lines the
 * database has and this replica's file does not). Both hold the same bytes at the same offsets,
 * so a reader may switch between them at any line.
 */
export function sharedLogReader(logs: StoredLogs): typeof readLog {
  return async (dataDir, buildId, fromOffset, maxBytes) => {
    const local = await readLog(dataDir, buildId, fromOffset, maxBytes);
    if (local.lines.length > 0) return local;
    const size = await logs.logSize(buildId);
    if (size <= local.size) return local;
    const stored: LogChunk = await readLines(
      { size, read: (position, length) => logs.readLog(buildId, position, length) },
      fromOffset,
      maxBytes,
    );
    return stored;
  };
}
