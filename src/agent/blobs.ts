import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContentStore } from '../artifacts/content-store.js';
import type { CollectedOutput, RunInput } from '../executor/port.js';
import type { ServerClient } from './server-client.js';

/**
 * Output files go to the server's content-addressed store; the agent asks first (`HEAD`) and
 * sends only blobs the server lacks. Job-output inputs come the other way, only when the agent's
 * own store lacks them.
 */
export class BlobTransfer {
  constructor(
    private readonly client: ServerClient,
    private readonly store: ContentStore,
    private readonly tmpDir: string,
  ) {}

  /** Uploads the blobs of `outputs` the server does not have; returns how many were sent. */
  async upload(outputs: readonly CollectedOutput[]): Promise<number> {
    const digests = new Set(outputs.flatMap((o) => o.files.map((f) => f.digest)));
    let sent = 0;
    for (const digest of digests) {
      const path = `/api/agent/blobs/${digest}`;
      const head = await this.client.call({
        method: 'HEAD',
        path,
        totalTimeoutMs: 30_000,
        attempts: 8,
      });
      if (head.status === 200) continue;
      const put = await this.client.call({
        method: 'PUT',
        path,
        stream: () => createReadStream(this.store.pathOf(digest)),
        totalTimeoutMs: 30 * 60_000,
        attempts: 8,
      });
      if (put.status !== 200) throw new Error(`uploading blob ${digest}: ${put.status}`);
      sent++;
    }
    return sent;
  }

  /** Fetches the blobs of job-output inputs missing from the agent's store. */
  async fetchInputs(inputs: readonly RunInput[]): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    for (const f of inputs.flatMap((i) => i.files)) {
      if (await this.store.has(f.digest)) continue;
      const tmp = join(this.tmpDir, `${f.digest}.${randomBytes(6).toString('hex')}`);
      try {
        const got = await this.client.call({
          method: 'GET',
          path: `/api/agent/blobs/${f.digest}`,
          sink: () => createWriteStream(tmp),
          totalTimeoutMs: 30 * 60_000,
          attempts: 8,
        });
        if (got.status !== 200) throw new Error(`downloading blob ${f.digest}: ${got.status}`);
        const stored = await this.store.put(tmp);
        if (stored.digest !== f.digest)
          throw new Error(`blob ${f.digest} arrived as ${stored.digest}`);
      } finally {
        await rm(tmp, { force: true });
      }
    }
  }
}
