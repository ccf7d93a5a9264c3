import { expect, it } from 'vitest';
import { inbox, scheduler } from '../ports.js';
import { forEachStore, push, sha } from './fixtures.js';

forEachStore('inbox', (store) => {
  it('keeps events in arrival order and dedupes a redelivery by its delivery id', async () => {
    const a = await inbox(store()).appendEvent(push(sha('a'), 'github:1'));
    const b = await inbox(store()).appendEvent(push(sha('b'), 'github:2'));
    const again = await inbox(store()).appendEvent(push(sha('c'), 'github:1'));
    expect(a.redelivery).toBe(false);
    expect(again).toEqual({ id: a.id, redelivery: true });
    expect(b.id).toBeGreaterThan(a.id);
    const pending = await scheduler(store()).pendingEvents(10);
    expect(pending.map((e) => e.id)).toEqual([a.id, b.id]);
    expect(pending[0]).toMatchObject({
      kind: 'source',
      source: 'app',
      version: sha('a'),
      ref: 'main',
      origin: 'webhook',
      changedPaths: ['src/a.ts'],
      producedBy: null,
      ancestry: null,
      receivedAt: 1000,
    });
  });

  it('still recognises a redelivery after the first delivery was decided', async () => {
    const first = await inbox(store()).appendEvent(push(sha(1), 'gitea:77'));
    const [e] = await scheduler(store()).pendingEvents(1);
    await scheduler(store()).applyDecisions(e!, [], 2000);
    expect(await inbox(store()).appendEvent(push(sha(2), 'gitea:77'))).toEqual({
      id: first.id,
      redelivery: true,
    });
    expect(await scheduler(store()).pendingEvents(10)).toEqual([]);
  });

  it('never dedupes events without a delivery id', async () => {
    const a = await inbox(store()).appendEvent(push(sha(1)));
    const b = await inbox(store()).appendEvent(push(sha(1)));
    expect(b.id).not.toBe(a.id);
    expect(b.redelivery).toBe(false);
    expect(await scheduler(store()).pendingEvents(10)).toHaveLength(2);
  });

  it('appends a batch in order in one call, deduping within the batch too', async () => {
    const before = await inbox(store()).appendEvent(push(sha(0), 'amqp:0'));
    const out = await inbox(store()).appendEvents([
      push(sha(1), 'amqp:1'),
      push(sha(2), 'amqp:0'),
      push(sha(3), 'amqp:3'),
      push(sha(4), 'amqp:1'),
    ]);
    expect(out.map((o) => o.redelivery)).toEqual([false, true, false, true]);
    expect(out[1]!.id).toBe(before.id);
    expect(out[3]!.id).toBe(out[0]!.id);
    expect(out[2]!.id).toBeGreaterThan(out[0]!.id);
    const versions = (await scheduler(store()).pendingEvents(10)).map((e) =>
      e.kind === 'source' ? e.version : e.kind,
    );
    expect(versions).toEqual([sha(0), sha(1), sha(3)]);
    expect(await inbox(store()).appendEvents([])).toEqual([]);
  });

  it('round-trips every event kind as the scheduler reads it', async () => {
    await inbox(store()).appendEvent({
      kind: 'trigger',
      job: 'build',
      force: true,
      by: 'alice',
      pins: [{ source: 'app', version: sha(9), ref: 'main' }],
      rebuildOf: 12,
      receivedAt: 5,
    });
    await inbox(store()).appendEvent({
      kind: 'trigger',
      job: 'lint',
      force: false,
      by: null,
      receivedAt: 6,
    });
    await inbox(store()).appendEvent({ kind: 'reconcile', receivedAt: 7 });
    await inbox(store()).appendEvent({ kind: 'settle', job: 'build', receivedAt: 8 });
    await inbox(store()).appendEvent({ ...push(sha(5), null, null), changedPaths: null });
    const [t1, t2, r, s, src] = await scheduler(store()).pendingEvents(10);
    expect(t1).toMatchObject({
      kind: 'trigger',
      job: 'build',
      force: true,
      by: 'alice',
      pins: [{ source: 'app', version: sha(9), ref: 'main' }],
      rebuildOf: 12,
      receivedAt: 5,
    });
    expect(t2).toMatchObject({ kind: 'trigger', job: 'lint', force: false, by: null, pins: [] });
    expect(t2).toMatchObject({ rebuildOf: null });
    expect(r).toMatchObject({ kind: 'reconcile', receivedAt: 7 });
    expect(s).toMatchObject({ kind: 'settle', job: 'build', receivedAt: 8 });
    expect(src).toMatchObject({ kind: 'source', ref: null, changedPaths: null });
  });

  it('hands out pending events oldest first, at most `limit`, until they are decided', async () => {
    for (let i = 0; i < 5; i++) await inbox(store()).appendEvent(push(sha(i)));
    const firstTwo = await scheduler(store()).pendingEvents(2);
    expect(firstTwo).toHaveLength(2);
    expect(await scheduler(store()).pendingEvents(2)).toEqual(firstTwo);
    for (const e of firstTwo) await scheduler(store()).applyDecisions(e, [], 2000);
    const rest = await scheduler(store()).pendingEvents(10);
    expect(rest).toHaveLength(3);
    expect(rest[0]!.id).toBeGreaterThan(firstTwo[1]!.id);
  });
});
