import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints the WAL from a worker thread with its own connection. A checkpoint copies the WAL
 * into the database and fsyncs twice; run inside a commit on the main thread (SQLite's automatic
 * checkpoint), it stalls every request for tens of milliseconds (bench/RESULTS.md, ingest p99).
 * PASSIVE never blocks the writer; the worker just tries again at the next tick, and skips ticks
 * when the WAL file has not changed since the last checkpoint.
 *
 * Often, because what a checkpoint costs the main thread is its fsync: while the worker syncs
 * the database file, the kernel holds the main thread's appends to the WAL. Every event writes
 * ~40 pages (the inbox row, then the decision's rows and their indexes), ~80 MB/s of WAL at 500
 * webhooks/s; checkpointing 5 s of that at once held commits for 150–250 ms, every 250 ms keeps
 * each sync small (bench/RESULTS.md, "Ingest").
 */
export class WalCheckpointer {
  private readonly worker: Worker;

  constructor(path: string, intervalMs = 250) {
    // Resolved here so the worker loads the very same native module the store uses.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      const Database = require(workerData.driver);
      const db = new Database(workerData.path);
      db.pragma('busy_timeout = 1000');
      // The WAL file's mtime moves on every commit: an idle server costs one stat() per tick.
      const { statSync } = require('node:fs');
      let seen = -1;
      const tick = () => {
        try {
          const mtime = statSync(workerData.path + '-wal').mtimeMs;
          if (mtime === seen) return;
          db.pragma('wal_checkpoint(PASSIVE)');
          seen = mtime;
        } catch {}
      };
      const timer = setInterval(tick, workerData.intervalMs);
      parentPort.on('message', () => { clearInterval(timer); tick(); db.close(); process.exit(0); });
      `,
      { eval: true, workerData: { driver, path, intervalMs } },
    );
    this.worker.unref();
  }

  /** Runs a last checkpoint and ends the worker. Safe to call twice. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}
