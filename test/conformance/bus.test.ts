import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessages, Topic } from '../../src/bus/port.js';
import { skipOrFail } from '../bus/rabbit.js';
import { busAdapters } from './ports.js';

// Only the topics nightless uses (build, log): unused ones are being removed from the port.
const outboxRow = (id: number): BusMessages['build'] => ({
  id,
  buildId: 3,
  type: 'queued',
  createdAt: 1000,
  build: {
    id: 3,
    job: 'build',
    state: 'queued',
    fingerprint: 'fp',
    forced: false,
    inputs: [],
    cause: { kind: 'definition' },
    queuedAt: 1000,
    startedAt: null,
    finishedAt: null,
    failedStep: null,
    reason: null,
    relatedBuild: null,
    exitCode: null,
    coverage: null,
    attempt: 1,
    concurrencyGroup: 'build',
    failureClass: null,
  },
});

/** Records what one subscription received. */
function recorder<T extends Topic>(bus: Bus, topic: T) {
  const got: Array<BusMessages[T]> = [];
  const unsubscribe = bus.subscribe(topic, (m) => got.push(m));
  return { got, unsubscribe };
}

/** Waits (bounded) until `done()` holds; delivery may be asynchronous on some adapters. */
async function eventually(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not delivered within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const adapter of busAdapters) {
  const why = (await adapter.unavailable?.()) ?? null;
  if (why !== null) skipOrFail(`the bus conformance suite [${adapter.name}]`, why);
  describe.skipIf(why !== null)(`bus port conformance [${adapter.name}]`, () => {
    let opened: Awaited<ReturnType<typeof adapter.open>>;
    let bus: Bus;
    const settle = () => new Promise((r) => setTimeout(r, adapter.settleMs));
    beforeEach(async () => {
      opened = await adapter.open();
      bus = opened.bus;
    });
    afterEach(async () => {
      await opened.dispose();
    });

    it('delivers a message intact to every subscriber of its topic, and to no other topic', async () => {
      const a = recorder(bus, 'build');
      const b = recorder(bus, 'build');
      const other = recorder(bus, 'log');
      bus.publish('build', outboxRow(41));
      await eventually(() => a.got.length === 1 && b.got.length === 1);
      await settle();
      expect(a.got).toEqual([outboxRow(41)]);
      expect(b.got).toEqual([outboxRow(41)]);
      expect(other.got).toEqual([]);
    });

    it("delivers each message once, in one publisher's order, per topic", async () => {
      const logs = recorder(bus, 'log');
      for (let bytes = 1; bytes <= 50; bytes++) bus.publish('log', { buildId: 7, bytes });
      await eventually(() => logs.got.length >= 50);
      await settle();
      expect(logs.got.map((m) => m.bytes)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('stops delivering after unsubscribe; unsubscribing twice is safe and touches no other subscription', async () => {
      const got: number[] = [];
      const handler = (m: BusMessages['log']) => got.push(m.bytes);
      const first = bus.subscribe('log', handler);
      const second = bus.subscribe('log', handler); // the same function, subscribed again
      first();
      first();
      bus.publish('log', { buildId: 1, bytes: 1 });
      await eventually(() => got.length === 1);
      await settle();
      expect(got).toEqual([1]);
      second();
      bus.publish('log', { buildId: 1, bytes: 2 });
      await settle();
      expect(got).toEqual([1]);
    });

    it('keeps delivering to the others when a handler throws, and never throws at the publisher', async () => {
      bus.subscribe('build', () => {
        throw new Error('subscriber bug');
      });
      const after = recorder(bus, 'build');
      expect(() => bus.publish('build', outboxRow(1))).not.toThrow();
      expect(() => bus.publish('build', outboxRow(2))).not.toThrow();
      await eventually(() => after.got.length === 2);
      expect(after.got.map((m) => m.id)).toEqual([1, 2]);
    });

    it('delivers nothing after close, and closing twice is safe', async () => {
      const r = recorder(bus, 'log');
      await bus.close();
      expect(() => bus.publish('log', { buildId: 1, bytes: 9 })).not.toThrow();
      await settle();
      expect(r.got).toEqual([]);
      await expect(bus.close()).resolves.toBeUndefined();
      r.unsubscribe(); // after close: still safe
    });
  });
}
