import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryObservation } from '../../src/core/slo/delivery-tally.js';
import { Receiver, SHA, startReporting, waitFor, webhook, type Reporting } from './helpers.js';

/**
 * The `delivery` SLO's events come from the report targets themselves: one observation per
 * outbox event once every target is done with it — delivered, or given up.
 */
describe('delivery observations from the report dispatcher (real webhooks)', () => {
  let rep: Reporting | null = null;
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await rep?.stop();
    for (const r of receivers.splice(0)) await r.stop();
    rep = null;
  });

  async function receiver(answer: ConstructorParameters<typeof Receiver>[0]): Promise<string> {
    const r = new Receiver(answer);
    receivers.push(r);
    return r.start();
  }

  it('one per event, when the slower of two targets is done, ok when both delivered', async () => {
    const fast = await receiver((_r, res) => res.writeHead(204).end());
    let failures = 2;
    const slow = await receiver((_r, res) => {
      if (failures-- > 0) res.writeHead(503).end('busy');
      else res.writeHead(204).end();
    });
    const seen: DeliveryObservation[] = [];
    rep = await startReporting([webhook(fast), webhook(slow)], {
      onDelivered: (o) => seen.push(o),
      // No jitter: the backoffs are their full 40 and 80 ms (jittered they may be half that).
      random: () => 1,
    });
    const before = Date.now();
    await rep.h.push('app', SHA(1));
    await rep.h.settle();
    await rep.dispatcher.drained();
    const rows = await rep.store.outbox.outboxEntriesSince(0, 100);
    await waitFor('every event observed', () => seen.length >= rows.length);
    expect(seen).toHaveLength(rows.length);
    expect(seen.every((o) => o.ok)).toBe(true);
    expect(seen.map((o) => o.createdAt)).toEqual(rows.map((r) => r.createdAt));
    // The first event waited for the slow target's two retries (40 ms, then 80 ms backoff).
    expect(seen[0]!.doneAt - seen[0]!.createdAt).toBeGreaterThanOrEqual(100);
    for (const o of seen) expect(o.doneAt).toBeGreaterThanOrEqual(before);
  });

  it('an event a target gave up is not ok, though the other target delivered it', async () => {
    const ok = await receiver((_r, res) => res.writeHead(204).end());
    const dead = await receiver((_r, res) => res.writeHead(410).end('gone'));
    const seen: DeliveryObservation[] = [];
    rep = await startReporting([webhook(ok), webhook(dead)], {
      onDelivered: (o) => seen.push(o),
    });
    await rep.h.push('app', SHA(1));
    await rep.h.settle();
    await rep.dispatcher.drained();
    const rows = await rep.store.outbox.outboxEntriesSince(0, 100);
    await waitFor('every event observed', () => seen.length >= rows.length);
    expect(seen.map((o) => o.ok)).toEqual(rows.map(() => false));
  });
});
