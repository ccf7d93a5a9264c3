import { retryThroughOutage } from '../async/retry-through-outage.js';
import { appendFile, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogReplica } from './port.js';

/** What the shipper needs of the store (`SharedLogPort`), declared here: ports belong to callers. */
export interface LogChunkStore {
  logSize(buildId: number): Promise<number>;
  appendLog(buildId: number, offset: number, bytes: Buffer): Promise<void>;
  readLog(buildId: number, from: number, maxBytes: number): Promise<Buffer>;
}

export interface LogShipperOptions {
  readonly store: LogChunkStore;
  readonly logFile: (buildId: number) => string;
  /** Longest a new byte waits before it is copied; default 200 ms. */
  readonly batchMs?: number;
  /** Copied at once when this many bytes are waiting; default 64 KiB. */
  readonly batchBytes?: number;
  /** Largest chunk row; default 256 KiB. */
  readonly maxChunkBytes?: number;
  /** A copy failed (the database is away); the bytes stay in the file and are retried. */
  readonly onError: (err: unknown, buildId: number) => void;
  /**
   * Whether a store error means "unavailable, try again" (the store's own classification, given
   * by the caller: the executor knows no store); `restore` waits those out. Default: none does.
   */
  readonly isUnavailable?: (err: unknown) => boolean;
}

interface Shipping {
  /** Bytes the store has, once asked. */
  shipped: number | null;
  timer: NodeJS.Timeout | null;
  /** Copies of this build, one after the other. */
  chain: Promise<void>;
  /** A copy is waiting in `chain` and has not started: it will read whatever the file has then. */
  queued: boolean;
  lastUsed: number;
}

/** Rounds of one copy; a log is capped (100 MiB default), so this is never the bound that stops. */
const MAX_ROUNDS = 100_000;
/** Builds idle this long are forgotten (their next growth asks the store where it stands). */
const IDLE_MS = 10 * 60_000;
const RETRY_MS = 1000;

/**
 * Copies build log files into the store as they grow, so every replica can read every log
 * (docs/deploy.md, "Logs and artifacts"). The file stays the source: bytes are masked before they
 * reach it, and the copy is byte for byte, so redaction holds exactly as for the file.
 *
 * Batched per build (at most `batchMs` late, at once past `batchBytes`), one copy at a time per
 * build, in order; every chunk is stored at its byte offset, which the store keeps once, so a
 * copy repeated after a failure or by another replica never duplicates a line. Memory is bounded
 * by one chunk per build being copied.
 */
export class LogShipper implements LogReplica {
  private readonly builds = new Map<number, Shipping>();
  private readonly batchMs: number;
  private readonly batchBytes: number;
  private readonly maxChunk: number;
  private stopped = false;

  constructor(private readonly opts: LogShipperOptions) {
    this.batchMs = opts.batchMs ?? 200;
    this.batchBytes = opts.batchBytes ?? 64 * 1024;
    this.maxChunk = opts.maxChunkBytes ?? 256 * 1024;
  }

  /**
   * With `wait`, waits out an unavailable store (a database restart) rather than failing: the
   * build has not started, and running it without the stored bytes would write its lines at
   * wrong offsets. Gives up (rethrows) when `wait` aborts, the shipper stops, or after about 10
   * minutes. Without `wait`, the first failure is thrown (a caller that cannot wait).
   */
  async restore(buildId: number, wait?: AbortSignal): Promise<void> {
    if (!wait) return this.restoreOnce(buildId);
    return retryThroughOutage(() => this.restoreOnce(buildId), {
      isOutage: (err) => this.opts.isUnavailable?.(err) === true,
      giveUp: () => this.stopped,
      signal: wait,
      onFirst: (err) => this.opts.onError(err, buildId),
    });
  }

  private async restoreOnce(buildId: number): Promise<void> {
    const file = this.opts.logFile(buildId);
    let have = await fileSize(file);
    const stored = await this.opts.store.logSize(buildId);
    if (stored <= have) return;
    await mkdir(dirname(file), { recursive: true });
    for (let i = 0; i < MAX_ROUNDS && have < stored; i++) {
      const bytes = await this.opts.store.readLog(buildId, have, this.maxChunk);
      if (bytes.length === 0) break; // a hole in the stored copy: keep what is contiguous
      await appendFile(file, bytes);
      have += bytes.length;
    }
    const s = this.state(buildId);
    s.shipped = Math.max(s.shipped ?? 0, have);
  }

  grew(buildId: number): void {
    if (this.stopped) return;
    const s = this.state(buildId);
    s.timer ??= setTimeout(() => void this.start(buildId), this.batchMs);
    // Past `batchBytes` waiting, copy at once (a writer reports every 50 ms; a burst of output
    // would otherwise wait for the timer with megabytes pending).
    if (s.shipped !== null && !s.queued)
      void fileSize(this.opts.logFile(buildId)).then((size) => {
        if (s.timer !== null && size - (s.shipped ?? size) >= this.batchBytes)
          void this.start(buildId);
      });
  }

  /** Copies what the files of these builds (default: every build seen) have now. */
  async flush(buildIds?: readonly number[]): Promise<void> {
    for (const id of buildIds ?? [...this.builds.keys()]) await this.start(id, true);
  }

  /** Copies what is waiting, then stops; later growth is not copied. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }

  private state(buildId: number): Shipping {
    const now = Date.now();
    let s = this.builds.get(buildId);
    if (s === undefined) {
      this.forgetIdle(now);
      const chain = Promise.resolve();
      s = { shipped: null, timer: null, chain, queued: false, lastUsed: now };
      this.builds.set(buildId, s);
    }
    s.lastUsed = now;
    return s;
  }

  private forgetIdle(now: number): void {
    for (const [id, s] of this.builds)
      if (!s.queued && s.timer === null && now - s.lastUsed > IDLE_MS) this.builds.delete(id);
  }

  /** Queues a copy behind the running one (unless one is queued already and `always` is off). */
  private start(buildId: number, always = false): Promise<void> {
    const s = this.state(buildId);
    if (s.timer !== null) clearTimeout(s.timer);
    s.timer = null;
    if (s.queued && !always) return s.chain;
    s.queued = true;
    s.chain = s.chain.then(async () => {
      s.queued = false;
      try {
        await this.copy(buildId, s);
      } catch (err) {
        this.opts.onError(err, buildId);
        if (!this.stopped) s.timer ??= setTimeout(() => void this.start(buildId), RETRY_MS);
      }
    });
    return s.chain;
  }

  private async copy(buildId: number, s: Shipping): Promise<void> {
    const fh = await open(this.opts.logFile(buildId), 'r').catch(() => null);
    if (fh === null) return; // nothing written here (yet)
    try {
      s.shipped ??= await this.opts.store.logSize(buildId);
      const size = (await fh.stat()).size;
      for (let i = 0; i < MAX_ROUNDS && s.shipped < size; i++) {
        const length = Math.min(this.maxChunk, size - s.shipped);
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, s.shipped);
        if (bytesRead === 0) break;
        await this.opts.store.appendLog(buildId, s.shipped, buf.subarray(0, bytesRead));
        s.shipped += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
}

async function fileSize(path: string): Promise<number> {
  return stat(path).then(
    (st) => st.size,
    () => 0,
  );
}
