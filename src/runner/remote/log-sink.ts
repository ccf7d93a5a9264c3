import { appendFile, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogReplica } from '../../executor/port.js';

/**
 * The server's copy of an agent's build log, written from chunks the agent sends with their
 * offset. Idempotent by offset (bytes the server has are skipped, so a resend after a lost answer
 * duplicates nothing) and ordered per build (one append at a time), so followers (`logs -f`, SSE)
 * read the same file as for a local build.
 */
export class LogSink {
  private readonly chains = new Map<number, Promise<unknown>>();

  constructor(
    private readonly pathOf: (buildId: number) => string,
    /** The database's copy (PostgreSQL installations): restored from on a gap, told of growth. */
    private readonly replica?: LogReplica,
  ) {}

  /** Resolves with the log's size after the chunk, or `{ gap: size }` when `offset > size`. */
  append(buildId: number, offset: number, bytes: Buffer): Promise<number | { gap: number }> {
    const prev = this.chains.get(buildId) ?? Promise.resolve();
    const next = prev.then(() => this.appendNow(buildId, offset, bytes));
    const settled = next.catch(() => undefined);
    this.chains.set(buildId, settled);
    void settled.then(() => {
      if (this.chains.get(buildId) === settled) this.chains.delete(buildId);
    });
    return next;
  }

  private async appendNow(
    buildId: number,
    offset: number,
    bytes: Buffer,
  ): Promise<number | { gap: number }> {
    const path = this.pathOf(buildId);
    const sizeOf = () =>
      stat(path).then(
        (s) => s.size,
        () => 0,
      );
    let size = await sizeOf();
    if (offset > size && this.replica) {
      // The agent sent the earlier chunks to another replica: continue from the shared copy.
      await this.replica.restore(buildId);
      size = await sizeOf();
    }
    if (offset > size) return { gap: size };
    const skip = size - offset;
    if (skip >= bytes.length) return size;
    await mkdir(dirname(path), { recursive: true });
    await appendFile(path, bytes.subarray(skip));
    this.replica?.grew(buildId);
    return size + bytes.length - skip;
  }
}
