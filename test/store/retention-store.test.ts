import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

// The store's own rules, whatever the planner or the caller's predicate say.
describe('retention store rules (SQLite)', () => {
  it('never deletes an unprocessed inbox event, even one the predicate accepts', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      const { id } = await store.inbox.appendEvent({ kind: 'reconcile', receivedAt: 1 });
      const batch = await store.retention.pruneHistory('events', 0, 10, () => true, 0);
      expect(batch).toMatchObject({ examined: 1, deleted: 0, done: true });
      expect((await store.scheduler.pendingEvents(10)).map((e) => e.id)).toEqual([id]);
      // Processed, it goes.
      const [event] = await store.scheduler.pendingEvents(1);
      if (!event) throw new Error('no event');
      await store.scheduler.applyDecisions(event, [], 2);
      expect(await store.retention.pruneHistory('events', 0, 10, () => true, 0)).toMatchObject({
        deleted: 1,
      });
    } finally {
      await store.close();
    }
  });

  it('examines at most `limit` rows per batch and continues after `lastId`', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      for (let i = 0; i < 5; i++)
        await store.inbox.appendEvent({ kind: 'reconcile', receivedAt: i });
      for (const e of await store.scheduler.pendingEvents(10))
        await store.scheduler.applyDecisions(e, [], 10);
      const first = await store.retention.pruneHistory('events', 0, 2, () => true, 0);
      expect(first).toMatchObject({ examined: 2, deleted: 2, lastId: 2, done: false });
      const second = await store.retention.pruneHistory(
        'events',
        first.lastId,
        2,
        (r) => r.at < 3,
        0,
      );
      expect(second).toMatchObject({ examined: 2, deleted: 1, lastId: 4, done: false });
      const third = await store.retention.pruneHistory('events', second.lastId, 2, () => true, 0);
      expect(third).toMatchObject({ examined: 1, deleted: 1, done: true });
    } finally {
      await store.close();
    }
  });

  it('refuses more than 500 builds in one transaction', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      await expect(
        store.retention.deleteBuilds(Array.from({ length: 501 }, (_, i) => i)),
      ).rejects.toThrow(/at most 500/);
    } finally {
      await store.close();
    }
  });
});
