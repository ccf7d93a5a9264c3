import { expect, it } from 'vitest';
import { deliveries, inbox, outbox, queue, reads, retention, scheduler } from '../ports.js';
import { buildWithOutput, finished, forEachStore, queued, sha } from './fixtures.js';

// The store's own rules, whatever the planner or the caller's predicate say.
forEachStore('retention', (store) => {
  it('never deletes an unprocessed inbox event, even one the predicate accepts', async () => {
    const { id } = await inbox(store()).appendEvent({ kind: 'reconcile', receivedAt: 1 });
    const batch = await retention(store()).pruneHistory('events', 0, 10, () => true, 0);
    expect(batch).toMatchObject({ examined: 1, deleted: 0, done: true });
    expect((await scheduler(store()).pendingEvents(10)).map((e) => e.id)).toEqual([id]);
    const [event] = await scheduler(store()).pendingEvents(1);
    await scheduler(store()).applyDecisions(event!, [], 2);
    expect(await retention(store()).pruneHistory('events', 0, 10, () => true, 0)).toMatchObject({
      deleted: 1,
    });
  });

  it('examines at most `limit` rows per batch and continues after `lastId`', async () => {
    for (let i = 0; i < 5; i++)
      await inbox(store()).appendEvent({ kind: 'reconcile', receivedAt: i });
    for (const e of await scheduler(store()).pendingEvents(10))
      await scheduler(store()).applyDecisions(e, [], 10);
    const first = await retention(store()).pruneHistory('events', 0, 2, () => true, 0);
    expect(first).toMatchObject({ examined: 2, deleted: 2, done: false });
    const second = await retention(store()).pruneHistory(
      'events',
      first.lastId,
      2,
      (r) => r.at < 3,
      0,
    );
    expect(second).toMatchObject({ examined: 2, deleted: 1, done: false });
    expect(second.lastId).toBeGreaterThan(first.lastId);
    const third = await retention(store()).pruneHistory('events', second.lastId, 2, () => true, 0);
    expect(third).toMatchObject({ examined: 1, deleted: 1, done: true });
  });

  it('refuses more than 500 builds in one transaction', async () => {
    await expect(
      retention(store()).deleteBuilds(Array.from({ length: 501 }, (_, i) => i)),
    ).rejects.toThrow(/at most 500/);
  });

  it('deletes finished builds with their decisions, never active builds or head producers', async () => {
    const head = await buildWithOutput(store(), 1, { head: true });
    const old = await buildWithOutput(store(), 2);
    const [running, waiting] = await queued(store(), sha(3), [
      ['r', { concurrency: { group: 'r', limit: 1, supersede: true } }],
      ['q', { concurrency: { group: 'q', limit: 1, supersede: true } }],
    ]);
    await queue(store()).claimNextBuild('w', 4000);
    const facts = await retention(store()).retentionFacts();
    expect(facts.headProducers).toEqual([head]);
    expect(facts.builds.map((b) => [b.id, b.state])).toEqual(
      expect.arrayContaining([
        [old, 'passed'],
        [running, 'running'],
        [waiting, 'queued'],
      ]),
    );
    const deleted = await retention(store()).deleteBuilds([head, old, running!, waiting!]);
    expect(deleted.builds).toMatchObject([{ id: old, job: 'build', fingerprint: 'fp2' }]);
    expect(deleted.decisions).toBe(1);
    expect(await reads(store()).getBuild(old)).toBeNull();
    for (const id of [head, running!, waiting!])
      expect(await reads(store()).getBuild(id)).not.toBeNull();
    expect(await retention(store()).deleteBuilds([])).toEqual({ builds: [], decisions: 0 });
  });

  it('keeps outbox rows a target has not delivered, and the newest row', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await queue(store()).claimNextBuild('w', 2100);
    await queue(store()).finishBuild(a!, finished(), 2200);
    const rows = (await outbox(store()).outboxSince(0, 10)).map((o) => o.id);
    expect(rows).toHaveLength(3);
    // The build still exists: none of its rows may go.
    expect(
      await retention(store()).pruneHistory('outbox', 0, 10, () => true, rows[2]!),
    ).toMatchObject({ deleted: 0 });
    await retention(store()).deleteBuilds([a!]);
    const d = await deliveries(store()).openDelivery(rows[0]!, 'hook', 1);
    await deliveries(store()).recordAttempt(d.id, { state: 'dead', error: 'x' }, null, 2);
    // Row 1 has a dead delivery, row 3 is the newest and above the cursor: only row 2 goes.
    const batch = await retention(store()).pruneHistory('outbox', 0, 10, () => true, rows[1]!);
    expect(batch).toMatchObject({ examined: 3, deleted: 1 });
    expect((await outbox(store()).outboxSince(0, 10)).map((o) => o.id)).toEqual([rows[0], rows[2]]);
  });
});
