import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** The lock file (an empty SQLite database: its lock is the point) and the holder's pid beside it. */
const LOCK_FILE = 'server.lock';
const PID_FILE = 'server.pid';

/** Another process holds the data directory: nothing in it was touched. */
export class DataDirLockedError extends Error {
  readonly code = 'NL_DATA_DIR_LOCKED';
  constructor(
    readonly dataDir: string,
    /** The holder's pid as it wrote it; `null` when the pid file is missing or unreadable. */
    readonly holderPid: number | null,
  ) {
    super(
      `data directory ${dataDir} is in use by another nightless server` +
        `${holderPid === null ? '' : ` (pid ${holderPid})`}; ` +
        'stop that server first, or start this one with another --data-dir',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Drops the lock and removes the pid file. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock of a data directory (which must exist), or throws
 * `DataDirLockedError` at once without waiting.
 *
 * Node has no flock; SQLite does the same with fcntl byte-range locks: an exclusive transaction
 * held open on a dedicated file. The kernel drops the lock when the process dies, however it
 * dies (kill -9 included), so a stale lock cannot exist; the pid file is only information for
 * the message. SQLite also tracks its locks per file inside one process, so two servers in the
 * same process (tests) exclude each other too.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const db = new BetterSqlite3(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock past any statement; BEGIN EXCLUSIVE takes it now.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY')
      throw new DataDirLockedError(dataDir, await readHolderPid(dataDir));
    throw new Error(`cannot lock data directory ${dataDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const pidFile = join(dataDir, PID_FILE);
  try {
    await writeFile(pidFile, `${process.pid}\n`);
  } catch (err) {
    db.close();
    throw new Error(`cannot write ${pidFile}: ${(err as Error).message}`, { cause: err });
  }
  let released = false;
  return {
    dataDir,
    async release() {
      if (released) return;
      released = true;
      // The pid file goes first: while the lock is held nobody else may have rewritten it.
      await rm(pidFile, { force: true });
      db.close();
    },
  };
}

async function readHolderPid(dataDir: string): Promise<number | null> {
  const text = await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => null);
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}
