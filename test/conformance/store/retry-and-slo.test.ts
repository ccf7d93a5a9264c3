import { expect, it } from 'vitest';
import type { RunResult } from '../../../src/executor/port.js';
import { deliveries, outbox, queue, reads } from '../ports.js';
import { finished, forEachStore, queued, sha } from './fixtures.js';

const networkError = {
  state: 'error',
  code: 'network',
  step: null,
  reason: 'git fetch failed: Connection refused',
  outputs: [],
  coverage: null,
  warnings: [],
} as unknown as RunResult;

forEachStore('retries (queueRetry, retryAt, nextRetryAt)', (store) => {
  const claim = async (now: number) => (await queue(store()).claimNextBuild('w', now))?.id ?? null;
  const outboxTypes = async () =>
    (await outbox(store()).outboxSince(0, 100)).map((o) => [o.buildId, o.type]);

  it('queueRetry queues attempt + 1 with the same inputs, linked both ways, once', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await claim(2100);
    await queue(store()).finishBuild(a!, { ...finished(networkError), retryAt: 2200 }, 2200);
    // finishBuild already queued the retry: a second one is refused.
    expect(await queue(store()).queueRetry(a!, 2300)).toBeNull();
    expect(await queue(store()).queueRetry(999, 2300)).toBeNull();
    const [first, retry] = [
      await reads(store()).getBuild(a!),
      await reads(store()).getBuild(a! + 1),
    ];
    expect(first).toMatchObject({ state: 'error', failureClass: 'network', relatedBuild: a! + 1 });
    expect(retry).toMatchObject({
      state: 'queued',
      attempt: 2,
      relatedBuild: a,
      cause: { kind: 'retry', previousBuild: a },
      fingerprint: 'fp1',
      inputs: [expect.objectContaining({ source: 'app', version: sha(1) })],
    });
  });

  it('queueRetry of an ended build without a retry: one queued row, and not twice', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await claim(2100);
    await queue(store()).finishBuild(a!, finished(networkError), 2200);
    const retry = await queue(store()).queueRetry(a!, 2300);
    expect(retry).toMatchObject({ state: 'queued', attempt: 2, queuedAt: 2300, relatedBuild: a });
    expect(await queue(store()).queueRetry(a!, 2400)).toBeNull();
    expect((await outboxTypes()).filter(([id]) => id === retry!.id)).toEqual([
      [retry!.id, 'queued'],
    ]);
    // No backoff asked: claimable at once.
    expect(await claim(2300)).toBe(retry!.id);
  });

  it('a retry that fails again can be retried once more (attempt 3)', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await claim(2100);
    await queue(store()).finishBuild(a!, finished(networkError), 2200);
    const second = await queue(store()).queueRetry(a!, 2300);
    expect(await claim(2300)).toBe(second!.id);
    await queue(store()).finishBuild(second!.id, finished(networkError), 2400);
    const third = await queue(store()).queueRetry(second!.id, 2500);
    expect(third).toMatchObject({ state: 'queued', attempt: 3, relatedBuild: second!.id });
    expect(await queue(store()).queueRetry(second!.id, 2600)).toBeNull();
  });

  it('an ending with retryAt writes no finished row; the retry waits until retryAt', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await claim(2100);
    await queue(store()).finishBuild(a!, { ...finished(networkError), retryAt: 5000 }, 2200);
    const types = await outboxTypes();
    expect(types).toEqual([
      [a, 'queued'],
      [a, 'started'],
      [a! + 1, 'queued'],
    ]);
    expect(await queue(store()).nextRetryAt(2200)).toBe(5000);
    expect(await claim(4999)).toBeNull();
    expect(await claim(5000)).toBe(a! + 1);
    expect(await queue(store()).nextRetryAt(5000)).toBeNull();
  });

  it('queueRetry with notBefore: not claimable before it; it does not hold its group', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await claim(2100);
    await queue(store()).finishBuild(a!, finished(networkError), 2200);
    const retry = await queue(store()).queueRetry(a!, 2300, 9000);
    const [newer] = await queued(store(), sha(2), [['fp2']], 2400);
    expect(await queue(store()).nextRetryAt(2400)).toBe(9000);
    expect(await claim(2500)).toBe(newer);
    await queue(store()).finishBuild(newer!, finished(), 2600);
    expect(await claim(8999)).toBeNull();
    expect(await claim(9000)).toBe(retry!.id);
  });
});

forEachStore('SLO history (sloHistory)', (store) => {
  it('returns finished endings and first-attempt starts since a time, with the event time', async () => {
    const two = { concurrency: { group: 'build@main', limit: 2, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', two],
      ['fp2', two],
    ]);
    await queue(store()).claimNextBuild('w', 2100);
    await queue(store()).claimNextBuild('w', 2150);
    await queue(store()).finishBuild(a!, finished(), 3000);
    await queue(store()).finishBuild(b!, finished(networkError), 3100);
    const all = (await reads(store()).sloHistory(0)).flatMap((o) =>
      o.type === 'delivered' || o.type === 'trace' ? [] : [o],
    );
    const ends = all.filter((o) => o.type === 'finished');
    expect(ends.map((o) => [o.build.state, o.build.failureClass, o.build.finishedAt])).toEqual(
      expect.arrayContaining([
        ['passed', null, 3000],
        ['error', 'network', 3100],
      ]),
    );
    expect(ends).toHaveLength(2);
    // An attempt followed by a retry is not an ending (it was never reported): only the retry's.
    const [c] = await queued(store(), sha(9), [['fp9']], 3200);
    await queue(store()).claimNextBuild('w', 3300);
    await queue(store()).finishBuild(c!, { ...finished(networkError), retryAt: 3400 }, 3400);
    await queue(store()).claimNextBuild('w', 3500);
    await queue(store()).finishBuild(c! + 1, finished(), 3600);
    const withRetry = (await reads(store()).sloHistory(3200)).flatMap((o) =>
      o.type === 'finished' ? [o.build.finishedAt] : [],
    );
    expect(withRetry).toEqual([3600]);
    const starts = all.filter((o) => o.type === 'started');
    // In start order (start_latency counts a version's first start), from the event's arrival.
    expect(starts.map((o) => [o.build.startedAt, o.eventAt])).toEqual([
      [2100, 1000],
      [2150, 1000],
    ]);
    expect(await reads(store()).sloHistory(10_000)).toEqual([]);
  });
});

forEachStore('SLO alerts in the outbox (appendSloAlert, outboxEntriesSince)', (store) => {
  it('keeps SLO rows in id order with build rows for targets, out of the build stream', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    const report = {
      name: 'reliability',
      burnRates: { fastLong: Infinity, fastShort: 20, slowLong: 1, slowShort: 0 },
    };
    const alert = { kind: 'burning' as const, pipeline: 'p', report: report as never, at: 2500 };
    const id = await outbox(store()).appendSloAlert(alert, 2500);
    const entries = await outbox(store()).outboxEntriesSince(0, 10);
    expect(entries.map((e) => [e.id, e.type])).toEqual([
      [id - 1, 'queued'],
      [id, 'slo.burning'],
    ]);
    expect(entries[1]).toMatchObject({
      createdAt: 2500,
      // JSON has no infinities: they come back as null.
      alert: {
        kind: 'burning',
        pipeline: 'p',
        at: 2500,
        report: { burnRates: { fastLong: null } },
      },
    });
    expect((await outbox(store()).outboxSince(0, 10)).map((r) => r.buildId)).toEqual([a]);
    expect(await outbox(store()).outboxEntriesSince(id, 10)).toEqual([]);
  });
});

forEachStore('SLO history of deliveries (sloHistory)', (store) => {
  it('an event whose deliveries are all finished: ok only when every one was delivered', async () => {
    await queued(store(), sha(1), [['fp1']]); // outbox #1, written at 2000
    await queued(store(), sha(2), [['fp2']], 2200); // outbox #2
    await queued(store(), sha(3), [['fp3']], 2400); // outbox #3
    const d = deliveries(store());
    const done = async (
      outboxId: number,
      target: string,
      state: 'delivered' | 'dead',
      at: number,
    ) => {
      const row = await d.openDelivery(outboxId, target, at - 50);
      await d.recordAttempt(
        row.id,
        state === 'delivered' ? { state } : { state, error: 'gone' },
        null,
        at,
      );
    };
    await done(1, 'a', 'delivered', 2500);
    await done(1, 'b', 'delivered', 2700);
    await done(2, 'a', 'delivered', 2600);
    await done(2, 'b', 'dead', 2650);
    await done(3, 'a', 'delivered', 2800);
    await d.openDelivery(3, 'b', 2800); // still pending: not counted yet
    const history = (await reads(store()).sloHistory(0)).filter((o) => o.type === 'delivered');
    expect(history).toEqual(
      expect.arrayContaining([
        { type: 'delivered', createdAt: 2000, doneAt: 2700, ok: true },
        expect.objectContaining({ type: 'delivered', createdAt: 2200, ok: false }),
      ]),
    );
    expect(history).toHaveLength(2);
  });
});
