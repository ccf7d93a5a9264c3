import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SloMonitor, type SloTransition } from '../../src/app/slo-monitor.js';
import { DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const base = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });
const withSlos = {
  ...base,
  slos: [
    {
      name: 'reliability',
      indicator: 'reliability' as const,
      objective: 0.99,
      windowMs: 3_600_000,
      thresholdMs: null,
      fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
      slow: DEFAULT_SLOW_BURN,
    },
  ],
};

describe('SloMonitor over a real SQLite store', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('rebuilds its counters from the builds table at start, and announces a burn start once', async () => {
    h = await startHarness(base, { slots: 1 });
    h.executor.script(
      'build',
      { state: 'passed' },
      { state: 'error', code: 'network', reason: 'git fetch failed: Connection refused' },
    );
    await h.push('app', 'a1');
    await h.settle();
    await h.push('app', 'a2');
    await h.settle();

    const history = (await h.store.read.sloHistory(0)).flatMap((o) =>
      o.type === 'delivered' || o.type === 'trace' ? [] : [o],
    );
    expect(history.filter((o) => o.type === 'finished').map((o) => o.build.failureClass)).toEqual(
      expect.arrayContaining([null, 'network']),
    );
    // start_latency's reference: when the event announcing the version was received.
    const starts = history.filter((x) => x.type === 'started');
    expect(starts).toHaveLength(2);
    for (const o of starts) {
      const c = o.build.cause;
      if (c.kind !== 'version' || c.eventId === null) throw new Error('expected a version cause');
      const event = await h.store.read.getEvent(c.eventId);
      expect(o.eventAt).toBe(event!.receivedAt);
    }

    const transitions: SloTransition[] = [];
    const monitor = new SloMonitor({
      store: h.store.read,
      traces: h.store.traces,
      now: Date.now,
      logger: pino({ level: 'silent' }),
      onTransition: (t) => transitions.push(t),
      tickMs: 60_000,
    });
    await monitor.load(withSlos);
    try {
      const [r] = monitor.reports();
      expect(r).toMatchObject({ name: 'reliability', good: 1, bad: 1, fastBurn: true });
      // Already burning at start: not announced again; a new change while burning neither.
      expect(transitions).toEqual([]);
      const b = (await h.builds())[0]!;
      monitor.observe({
        type: 'finished',
        build: { ...b, failureClass: 'network', finishedAt: Date.now() },
      });
      expect(transitions).toEqual([]);
    } finally {
      monitor.stop();
    }
  });

  it('announces burning when an observation starts the fast burn, then recovered when it ends', async () => {
    h = await startHarness(base, { slots: 1 });
    let now = Date.UTC(2026, 0, 1);
    const transitions: SloTransition[] = [];
    const monitor = new SloMonitor({
      store: h.store.read,
      traces: h.store.traces,
      now: () => now,
      logger: pino({ level: 'silent' }),
      onTransition: (t) => transitions.push(t),
      tickMs: 60_000,
    });
    await monitor.load(withSlos);
    const build = {
      state: 'error' as const,
      failureClass: 'network' as const,
      attempt: 1,
      cause: { kind: 'definition' as const },
      queuedAt: now,
      startedAt: now,
      finishedAt: now,
    };
    monitor.observe({ type: 'finished', build });
    expect(transitions.map((t) => t.kind)).toEqual(['burning']);
    // Past the short window with good builds only: the alert ends.
    now += 120_000;
    for (let i = 0; i < 20; i++)
      monitor.observe({
        type: 'finished',
        build: { ...build, state: 'passed', failureClass: null, finishedAt: now },
      });
    expect(transitions.map((t) => t.kind)).toEqual(['burning', 'recovered']);
    monitor.stop();
  });

  it('start_latency live: measures a started build from its event, read from the store', async () => {
    // No slots: the builds stay queued, so the store's history holds no start yet.
    const two = pipeline({
      sources: { app: git('main') },
      jobs: { build: job({ inputs: ['app'] }), lint: job({ inputs: ['app'] }) },
    });
    h = await startHarness(two, { slots: 0 });
    await h.push('app', 'a1');
    await expect.poll(async () => (await h.builds()).length).toBe(2);
    await h.push('app', 'a2');
    await expect.poll(async () => (await h.builds()).length).toBe(4);
    const [b1, l1, b2] = await h.builds();
    const received = async (b: typeof b1) => {
      const c = b!.cause;
      if (c.kind !== 'version' || c.eventId === null) throw new Error('expected a version cause');
      return (await h.store.read.getEvent(c.eventId))!.receivedAt;
    };
    const monitor = new SloMonitor({
      store: h.store.read,
      traces: h.store.traces,
      // A minute ahead: the starts below (seconds after the events) are in the past.
      now: () => Date.now() + 60_000,
      logger: pino({ level: 'silent' }),
      onTransition: () => undefined,
      tickMs: 60_000,
    });
    await monitor.load({
      ...two,
      slos: [
        { ...withSlos.slos[0]!, name: 'start', indicator: 'start_latency', thresholdMs: 1_000 },
      ],
    });
    try {
      // Queued at once (queuedAt ≈ event), but started 5 s after the event: bad; 0.5 s: good.
      const t1 = await received(b1);
      const t2 = await received(b2);
      monitor.observe({ type: 'started', build: { ...b1!, queuedAt: t1, startedAt: t1 + 5_000 } });
      // The same version's other job starting later: the version counted already.
      monitor.observe({ type: 'started', build: { ...l1!, queuedAt: t1, startedAt: t1 + 9_000 } });
      monitor.observe({
        type: 'started',
        build: { ...b2!, queuedAt: t2 + 400, startedAt: t2 + 500 },
      });
      await expect
        .poll(() => {
          const r = monitor.reports()[0]!;
          return [r.good, r.bad];
        })
        .toEqual([1, 1]);
    } finally {
      monitor.stop();
    }
  });

  it('lead_time live: a chain is open until its downstream build ends; still open at T is bad then', async () => {
    const chain = pipeline({
      sources: { app: git('main') },
      jobs: {
        a: job({ inputs: ['app'], outputs: { dist: 'dist/*' } }),
        b: job({ inputs: ['a.dist'] }),
      },
    });
    h = await startHarness(chain, { slots: 1 });
    h.executor.hold('b');
    const monitor = new SloMonitor({
      store: h.store.read,
      traces: h.store.traces,
      now: Date.now,
      logger: pino({ level: 'silent' }),
      onTransition: () => undefined,
      tickMs: 50,
    });
    const lead = {
      name: 'lead',
      indicator: 'lead_time' as const,
      objective: 0.99,
      windowMs: 3_600_000,
      // Real time, kept short: a scripted chain takes milliseconds, a held build as long as asked.
      thresholdMs: 3_000,
      fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
      slow: DEFAULT_SLOW_BURN,
    };
    await monitor.load({ ...chain, slos: [lead] });
    const off = h.bus.subscribe('build', monitor.observe);
    try {
      await h.push('app', 'v1');
      // a passed, its output queued b, which runs (held): the version's trace is open.
      await expect
        .poll(async () => (await h.builds('b')).map((b) => b.state), { timeout: 10_000 })
        .toEqual(['running']);
      expect((await h.builds('a'))[0]!.state).toBe('passed');
      await new Promise((r) => setTimeout(r, 200));
      await monitor.idle();
      expect(monitor.reports()[0]).toMatchObject({ good: 0, bad: 0 });

      // T passes with b still running: bad then, without waiting for b.
      await expect
        .poll(() => monitor.reports()[0], { timeout: 6_000 })
        .toMatchObject({ good: 0, bad: 1 });
      expect((await h.builds('b'))[0]!.state).toBe('running');
      h.executor.release('b');
      await h.settle();
      await new Promise((r) => setTimeout(r, 200));
      await monitor.idle();
      // Its late end does not count it again.
      expect(monitor.reports()[0]).toMatchObject({ good: 0, bad: 1 });

      // A fast chain: good, at the end of b.
      await h.push('app', 'v2');
      await h.settle();
      await expect
        .poll(() => monitor.reports()[0], { timeout: 5_000 })
        .toMatchObject({ good: 1, bad: 1 });
      // A restart's history agrees with what was counted live.
      const again = new SloMonitor({
        store: h.store.read,
        traces: h.store.traces,
        now: Date.now,
        logger: pino({ level: 'silent' }),
        onTransition: () => undefined,
        tickMs: 60_000,
      });
      await again.load({ ...chain, slos: [lead] });
      expect(again.reports()[0]).toMatchObject({ good: 1, bad: 1 });
      again.stop();
    } finally {
      off();
      monitor.stop();
    }
  });
});
