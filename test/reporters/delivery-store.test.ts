import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { SHA, startReporting } from './helpers.js';

describe('delivery store (SQLite)', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-deliveries-'));
    store = await openSqliteStore({ path: join(dir, 'state.db') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('keeps the first start position of a cursor and never moves it backwards', async () => {
    const d = store.deliveries;
    expect(await d.ensureCursor('webhook:0:abc', 'webhook', 5, 1)).toBe(5);
    expect(await d.ensureCursor('webhook:0:abc', 'webhook', 99, 2)).toBe(5);
    await d.advanceCursor('webhook:0:abc', 9, 3);
    await d.advanceCursor('webhook:0:abc', 7, 4);
    await d.setCursorError('webhook:0:abc', 'down', 5);
    expect(await d.listCursors()).toEqual([
      {
        target: 'webhook:0:abc',
        kind: 'webhook',
        lastOutboxId: 9,
        lastError: 'down',
        updatedAt: 5,
      },
    ]);
  });
});

describe('delivery records of a real outbox', () => {
  it('opens once per (outbox row, target), retries only dead ones, and survives a restart of the count', async () => {
    const rep = await startReporting([]);
    try {
      await rep.h.push('app', SHA(1));
      await rep.h.settle();
      const [row] = await rep.store.outbox.outboxSince(0, 1);
      const d = rep.store.deliveries;
      await d.ensureCursor('t', 'webhook', 0, 1);
      const a = await d.openDelivery(row!.id, 't', 10);
      const b = await d.openDelivery(row!.id, 't', 20);
      expect(b).toEqual(a);
      expect(a).toMatchObject({
        state: 'pending',
        attempts: 0,
        buildId: row!.buildId,
        type: row!.type,
      });
      await d.recordAttempt(
        a.id,
        { state: 'pending', error: 'HTTP 503', nextAttemptAt: 50 },
        null,
        30,
      );
      expect(await d.retryDelivery(a.id, 40)).toMatchObject({ state: 'pending', attempts: 1 });
      await d.recordAttempt(
        a.id,
        { state: 'dead', error: 'gave up' },
        { target: 't', outboxId: row!.id },
        60,
      );
      expect((await d.listCursors())[0]?.lastOutboxId).toBe(row!.id);
      expect(await d.dueRetries('t', 100, 10)).toEqual([]);
      expect(await d.retryDelivery(a.id, 70)).toMatchObject({
        state: 'pending',
        attempts: 0,
        nextAttemptAt: 70,
      });
      expect((await d.dueRetries('t', 100, 10)).map((x) => x.id)).toEqual([a.id]);
      expect(await d.nextRetryAt('t')).toBe(70);
      await d.recordAttempt(a.id, { state: 'delivered' }, null, 80);
      expect(await d.getDelivery(a.id)).toMatchObject({
        state: 'delivered',
        attempts: 1,
        deliveredAt: 80,
        lastError: null,
      });
    } finally {
      await rep.stop();
    }
  });
});
