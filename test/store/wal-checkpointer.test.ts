import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

describe('WAL checkpoints', () => {
  it('are made by the background worker, not left to grow in the WAL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-'));
    const path = join(dir, 'nightless.db');
    const store = await openSqliteStore({ path });
    try {
      const before = (await stat(path)).size;
      const events = Array.from({ length: 3000 }, (_, i) => ({
        kind: 'source' as const,
        source: 'app',
        version: `v${i}`.padEnd(40, 'x'),
        ref: 'main',
        origin: 'webhook' as const,
        deliveryId: `d${i}`,
        changedPaths: null,
        producedBy: null,
        receivedAt: i,
      }));
      await store.inbox.appendEvents(events);
      // The rows reach the main database file only through a checkpoint, and soon: a worker
      // that waited seconds would sync seconds of writes at once, stalling the next commits.
      const deadline = Date.now() + 2_000;
      while ((await stat(path)).size <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect((await stat(path)).size).toBeGreaterThan(before);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
