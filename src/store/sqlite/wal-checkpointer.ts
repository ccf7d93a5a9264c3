import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints the WAL from a worker thread with its own connection. A checkpoint copies the WAL
 * into the database and fsyncs; run inside a commit on the main thread (SQLite's automatic
 * checkpoint), it stalls every request for tens of milliseconds (bench/RESULTS.md, ingest p99).
 * PASSIVE never blocks the writer; the worker just tries again at the next tick, and skips ticks
 * when the WAL file has not changed since the last checkpoint.
 *
 * Often, because what a checkpoint costs is its fsync: while the worker syncs, the kernel holds
 * the main thread's appends to the WAL. Every event writes ~25–40 pages (the inbox row, then the
 * decision's rows and their indexes), ~50–80 MB/s of WAL at 500 webhooks/s; checkpointing 5 s of
 * that at once held commits for 150–250 ms. While commits come in, the worker ticks every 100 ms;
 * once a tick finds the WAL unchanged, it sleeps until the WAL is written again (inotify through
 * `fs.watch`; every 60 s as a fallback, or every 500 ms where it cannot watch): an idle server's
 * worker costs nothing, where ticking twice a second cost ~0.05 CPU-s a minute (bench/RESULTS.md).
 *
 * The worker also syncs the database file itself after a tick that copied pages. SQLite syncs it
 * only when a checkpoint copies the whole WAL, which under a steady stream only the main thread's
 * backstop checkpoint does (the one that lets the WAL start over): that synced every page copied
 * since the last full checkpoint, seconds of them, inside a commit (15–30 ms every ~8 s at 500
 * events/s; 5–13 ms with this worker's syncs; bench/ingest/backstop.mts, bench/RESULTS.md).
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  /**
   * A descriptor of the database file for the worker's fdatasync, opened and closed on this
   * thread: closing any descriptor of a file drops every POSIX lock this process holds on it,
   * SQLite's included, so it may be closed only after the last connection (see `release`).
   */
  private fd: number | null;

  constructor(path: string, busyMs = 100, idleMs = 500, watchedMs = 60_000) {
    // Resolved here so the worker loads the very same native module the store uses.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.fd = openSync(path, 'r');
    this.worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      const { fdatasyncSync, statSync, watch } = require('node:fs');
      const Database = require(workerData.driver);
      const db = new Database(workerData.path);
      db.pragma('busy_timeout = 1000');
      const wal = workerData.path + '-wal';
      // The WAL file's mtime moves on every commit.
      let seen = -1;
      let copied = -1;
      const walMtime = () => statSync(wal).mtimeMs;
      /** Checkpoints if the WAL changed since the last tick; says whether it did. */
      const tick = () => {
        try {
          const mtime = walMtime();
          if (mtime === seen) return false;
          const [{ checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)');
          seen = mtime;
          // SQLite synced the file only if no commit landed while it copied: rarely, under load.
          if (checkpointed !== copied) fdatasyncSync(workerData.fd);
          copied = checkpointed;
          return true;
        } catch {
          return false;
        }
      };
      let timer;
      let watcher = null;
      const unwatch = () => {
        if (watcher !== null) watcher.close();
        watcher = null;
      };
      /** Drops whatever was armed to run the next tick: the watch and the timer. */
      const disarm = () => {
        unwatch();
        clearTimeout(timer);
      };
      /** One next tick, ms from now. */
      const tickIn = (ms) => {
        disarm();
        timer = setTimeout(loop, ms);
      };
      const wake = () => tickIn(workerData.busyMs);
      /** Where the WAL cannot be watched, the worker ticks instead. */
      const poll = () => tickIn(workerData.idleMs);
      /** Quiet: the next write to the WAL wakes the worker, not a timer. */
      const sleep = () => {
        disarm();
        try {
          watcher = watch(wal, { persistent: true }, wake);
          watcher.on('error', poll);
          timer = setTimeout(loop, workerData.watchedMs);
          // A commit that landed between the tick and the watch is seen now, not at the next one.
          if (walMtime() !== seen) wake();
        } catch {
          poll();
        }
      };
      const loop = () => (tick() ? wake() : sleep());
      timer = setTimeout(loop, workerData.busyMs);
      parentPort.on('message', () => {
        disarm();
        tick();
        db.close();
        process.exit(0);
      });
      `,
      { eval: true, workerData: { driver, path, busyMs, idleMs, watchedMs, fd: this.fd } },
    );
    this.worker.unref();
  }

  /** Runs a last checkpoint and ends the worker. Safe to call twice. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }

  /** Closes the worker's descriptor: only once the store's own connection is closed too. */
  release(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
