import { expect, it } from 'vitest';
import { deliveries, outbox, queue } from '../ports.js';
import { forEachStore, queued, sha } from './fixtures.js';

forEachStore('deliveries', (store) => {
  /** Three outbox rows (queued, queued, started) to deliver. */
  async function rows(): Promise<number[]> {
    await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    await queue(store()).claimNextBuild('w', 2100);
    return (await outbox(store()).outboxSince(0, 10)).map((o) => o.id);
  }

  it('starts a new target after `startAfter` and keeps an existing cursor where it is', async () => {
    const [o1, o2] = await rows();
    expect(await deliveries(store()).ensureCursor('hook', 'webhook', o1!, 10)).toBe(o1);
    expect(await deliveries(store()).ensureCursor('hook', 'webhook', o2!, 20)).toBe(o1);
    expect(await deliveries(store()).ensureCursor('amqp', 'amqp', 0, 30)).toBe(0);
    expect(await deliveries(store()).listCursors()).toMatchObject([
      { target: 'amqp', kind: 'amqp', lastOutboxId: 0, lastError: null },
      { target: 'hook', kind: 'webhook', lastOutboxId: o1, lastError: null },
    ]);
  });

  it('moves a cursor only forward, clearing its error', async () => {
    const [o1, o2, o3] = await rows();
    await deliveries(store()).ensureCursor('hook', 'webhook', 0, 10);
    await deliveries(store()).advanceCursor('hook', o2!, 20);
    await deliveries(store()).setCursorError('hook', 'connection refused', 30);
    expect((await deliveries(store()).listCursors())[0]).toMatchObject({
      lastOutboxId: o2,
      lastError: 'connection refused',
      updatedAt: 30,
    });
    await deliveries(store()).advanceCursor('hook', o1!, 40);
    expect((await deliveries(store()).listCursors())[0]?.lastOutboxId).toBe(o2);
    await deliveries(store()).advanceCursor('hook', o3!, 50);
    expect((await deliveries(store()).listCursors())[0]).toMatchObject({
      lastOutboxId: o3,
      lastError: null,
    });
  });

  it('opens one delivery per outbox row and target, however often it is asked', async () => {
    const [o1] = await rows();
    const first = await deliveries(store()).openDelivery(o1!, 'hook', 100);
    expect(first).toMatchObject({
      outboxId: o1,
      target: 'hook',
      state: 'pending',
      attempts: 0,
      nextAttemptAt: 100,
      lastError: null,
      createdAt: 100,
      deliveredAt: null,
      type: 'queued',
    });
    expect(await deliveries(store()).openDelivery(o1!, 'hook', 200)).toEqual(first);
    const other = await deliveries(store()).openDelivery(o1!, 'status', 200);
    expect(other.id).not.toBe(first.id);
    expect(await deliveries(store()).getDelivery(first.id)).toEqual(first);
    expect(await deliveries(store()).getDelivery(9999)).toBeNull();
  });

  it('records attempts: retry later, dead, delivered — moving the cursor in the same call', async () => {
    const [o1] = await rows();
    await deliveries(store()).ensureCursor('hook', 'webhook', 0, 10);
    const d = await deliveries(store()).openDelivery(o1!, 'hook', 100);
    await deliveries(store()).recordAttempt(
      d.id,
      { state: 'pending', error: 'HTTP 503', nextAttemptAt: 500 },
      null,
      110,
    );
    expect(await deliveries(store()).getDelivery(d.id)).toMatchObject({
      state: 'pending',
      attempts: 1,
      nextAttemptAt: 500,
      lastError: 'HTTP 503',
    });
    await deliveries(store()).recordAttempt(d.id, { state: 'dead', error: 'HTTP 410' }, null, 600);
    expect(await deliveries(store()).getDelivery(d.id)).toMatchObject({
      state: 'dead',
      attempts: 2,
      nextAttemptAt: null,
      lastError: 'HTTP 410',
    });
    await deliveries(store()).retryDelivery(d.id, 700);
    await deliveries(store()).recordAttempt(
      d.id,
      { state: 'delivered' },
      { target: 'hook', outboxId: o1! },
      800,
    );
    expect(await deliveries(store()).getDelivery(d.id)).toMatchObject({
      state: 'delivered',
      attempts: 1,
      nextAttemptAt: null,
      lastError: null,
      deliveredAt: 800,
    });
    expect((await deliveries(store()).listCursors())[0]?.lastOutboxId).toBe(o1);
  });

  it('retries dead deliveries only, due at once, as manual retries behind the cursor', async () => {
    const [o1, o2, o3] = await rows();
    await deliveries(store()).ensureCursor('hook', 'webhook', 0, 10);
    const dead = await deliveries(store()).openDelivery(o1!, 'hook', 100);
    await deliveries(store()).recordAttempt(
      dead.id,
      { state: 'dead', error: 'HTTP 400' },
      { target: 'hook', outboxId: o1! },
      110,
    );
    const ahead = await deliveries(store()).openDelivery(o3!, 'hook', 120);
    const ok = await deliveries(store()).openDelivery(o2!, 'hook', 120);
    await deliveries(store()).recordAttempt(ok.id, { state: 'delivered' }, null, 130);
    expect(await deliveries(store()).retryDelivery(ok.id, 140)).toMatchObject({
      state: 'delivered',
    });
    expect(await deliveries(store()).retryDelivery(9999, 140)).toBeNull();
    expect(await deliveries(store()).nextRetryAt('hook')).toBeNull();
    expect(await deliveries(store()).retryDelivery(dead.id, 150)).toMatchObject({
      state: 'pending',
      attempts: 0,
      nextAttemptAt: 150,
    });
    // Only the retried one is behind the cursor (o1); the pending o3 is the head's business.
    expect(await deliveries(store()).nextRetryAt('hook')).toBe(150);
    expect((await deliveries(store()).dueRetries('hook', 149, 10)).map((x) => x.id)).toEqual([]);
    expect((await deliveries(store()).dueRetries('hook', 150, 10)).map((x) => x.id)).toEqual([
      dead.id,
    ]);
    expect(ahead.state).toBe('pending');
  });

  it('lists deliveries newest first, filtered by state, target and build, paged by id', async () => {
    const [o1, o2, o3] = await rows();
    const d1 = await deliveries(store()).openDelivery(o1!, 'hook', 100);
    const d2 = await deliveries(store()).openDelivery(o2!, 'hook', 100);
    const d3 = await deliveries(store()).openDelivery(o3!, 'status', 100);
    await deliveries(store()).recordAttempt(d2.id, { state: 'dead', error: 'x' }, null, 110);
    const ids = async (f: Parameters<ReturnType<typeof deliveries>['listDeliveries']>[0]) =>
      (await deliveries(store()).listDeliveries(f)).map((d) => d.id);
    expect(await ids({ limit: 10 })).toEqual([d3.id, d2.id, d1.id]);
    expect(await ids({ limit: 10, state: 'dead' })).toEqual([d2.id]);
    expect(await ids({ limit: 10, target: 'hook' })).toEqual([d2.id, d1.id]);
    expect(await ids({ limit: 10, buildId: d1.buildId })).toEqual([d3.id, d1.id]);
    expect(await ids({ limit: 1, before: d3.id })).toEqual([d2.id]);
  });
});
