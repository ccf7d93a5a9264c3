import { open } from 'node:fs/promises';
import type { ServerClient } from './server-client.js';

const CHUNK_BYTES = 1024 * 1024;
const MAX_ROUNDS = 100_000;

/**
 * Sends one build's log file to the server in chunks, each with the offset it starts at. The
 * server skips bytes it has (a resend after a lost answer duplicates nothing) and names the
 * offset it wants when a chunk would leave a hole, so the copy resumes after a reconnect with no
 * line lost. One upload at a time; `kick` after the file grew, `flush` at the end.
 */
export class LogUploader {
  private sent = 0;
  private wanted = 0;
  private running: Promise<void> | null = null;
  /** Set when the server said the build is not ours any more. */
  lost = false;

  constructor(
    private readonly client: ServerClient,
    private readonly agent: string,
    private readonly buildId: number,
    private readonly file: string,
    private readonly onLost: () => void,
  ) {}

  /** The file is `size` bytes now; upload in the background (errors are retried at `flush`). */
  kick(size: number): void {
    this.wanted = Math.max(this.wanted, size);
    this.running ??= this.drain(5)
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
      });
  }

  /** Uploads everything up to `size`; rejects when the server stayed unreachable. */
  async flush(size: number): Promise<void> {
    this.wanted = Math.max(this.wanted, size);
    await this.running;
    // At the end the server may be away for a while (a restart): keep trying, bounded.
    await this.drain(1000);
  }

  private async drain(attempts: number): Promise<void> {
    const fh = await open(this.file, 'r').catch(() => null);
    if (!fh) return;
    try {
      for (let i = 0; i < MAX_ROUNDS && this.sent < this.wanted && !this.lost; i++) {
        const length = Math.min(CHUNK_BYTES, this.wanted - this.sent);
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, this.sent);
        if (bytesRead === 0) return;
        const answer = await this.client.call({
          method: 'PUT',
          path: `/api/agent/builds/${this.buildId}/log`,
          query: { agent: this.agent, offset: this.sent },
          bytes: buf.subarray(0, bytesRead),
          totalTimeoutMs: 30_000,
          attempts,
        });
        const body = JSON.parse(answer.body.toString('utf8') || '{}') as {
          size?: number;
          error?: { details?: { expectedOffset?: number; discard?: boolean } };
        };
        if (answer.status === 200 && body.size !== undefined) {
          this.sent = body.size;
        } else if (answer.status === 409 && body.error?.details?.expectedOffset !== undefined) {
          this.sent = Math.min(body.error.details.expectedOffset, this.sent);
        } else if (answer.status === 409) {
          this.lost = true;
          this.onLost();
        } else {
          throw new Error(`log upload of build #${this.buildId}: ${answer.status}`);
        }
      }
    } finally {
      await fh.close();
    }
  }
}
