import { afterEach, describe, expect, it } from 'vitest';
import type { SloAlert } from '../../src/core/slo/slo-alert.js';
import { DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import { SloSet } from '../../src/core/slo/slo-set.js';
import { signBody } from '../../src/reporters/webhook/webhook-reporter.js';
import { Receiver, startReporting, waitFor, webhook, type Reporting } from './helpers.js';

/** A real report of a burning SLO (one bad build of one), as the monitor hands it over. */
function burningAlert(at: number): SloAlert {
  const set = new SloSet([
    {
      name: 'reliability',
      indicator: 'reliability',
      objective: 0.99,
      windowMs: 3_600_000,
      thresholdMs: null,
      fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
      slow: DEFAULT_SLOW_BURN,
    },
  ]);
  set.observe({
    type: 'finished',
    build: {
      state: 'error',
      failureClass: 'network',
      attempt: 1,
      cause: { kind: 'definition' },
      queuedAt: at,
      startedAt: at,
      finishedAt: at,
    },
  });
  return { kind: 'burning', pipeline: 'shop', report: set.evaluate(at)[0]!, at };
}

describe('SLO alerts go through the outbox like build events', () => {
  let rep: Reporting | null = null;
  let receiver: Receiver | null = null;
  afterEach(async () => {
    await rep?.stop();
    await receiver?.stop();
    rep = null;
    receiver = null;
  });

  it('a webhook that fails first gets dev.nightless.slo.burning again, signed, until it takes it', async () => {
    let failures = 2;
    receiver = new Receiver((_r, res) => {
      if (failures-- > 0) res.writeHead(503).end('busy');
      else res.writeHead(204).end();
    });
    const url = await receiver.start();
    rep = await startReporting([webhook(url)]);
    const at = Date.now();
    await rep.store.outbox.appendSloAlert(burningAlert(at), at);
    rep.dispatcher.wake();
    await waitFor('the third attempt', () => receiver!.requests.length >= 3);
    const last = receiver.requests[2]!;
    expect(last.headers['x-nightless-event']).toBe('dev.nightless.slo.burning');
    expect(last.headers['x-nightless-signature-256']).toBe(signBody('qe-secret', last.body));
    const event = JSON.parse(last.body) as {
      id: string;
      type: string;
      subject: string;
      data: { pipeline: string; slo: { name: string; bad: number; fastBurn: boolean } };
    };
    expect(event).toMatchObject({
      id: `shop:slo:reliability:burning:${at}`,
      type: 'dev.nightless.slo.burning',
      subject: 'slo/reliability',
      data: { pipeline: 'shop', slo: { name: 'reliability', bad: 1, fastBurn: true } },
    });
    // Every attempt carries the same event; the delivery is recorded as for build events.
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
    await waitFor('the delivery to be recorded', async () => {
      const [d] = await rep!.store.deliveries.listDeliveries({ limit: 10 });
      return d?.state === 'delivered';
    });
    const [d] = await rep.store.deliveries.listDeliveries({ limit: 10 });
    expect(d).toMatchObject({ state: 'delivered', attempts: 3 });
  });

  it('a target that never takes it ends it as a dead letter; build streams never see it', async () => {
    receiver = new Receiver((_r, res) => res.writeHead(500).end('down'));
    const url = await receiver.start();
    rep = await startReporting([webhook(url, { maxAttempts: 2 })]);
    const at = Date.now();
    await rep.store.outbox.appendSloAlert(burningAlert(at), at);
    rep.dispatcher.wake();
    await waitFor('a dead delivery', async () => {
      const [d] = await rep!.store.deliveries.listDeliveries({ limit: 10 });
      return d?.state === 'dead';
    });
    expect(receiver.requests).toHaveLength(2);
    // Build events are not held up behind it, and the live build stream never sees it.
    expect(await rep.store.outbox.outboxSince(0, 10)).toEqual([]);
    const entries = await rep.store.outbox.outboxEntriesSince(0, 10);
    expect(entries.map((e) => e.type)).toEqual(['slo.burning']);
  });
});
