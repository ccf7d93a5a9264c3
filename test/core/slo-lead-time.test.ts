import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LeadTimeTally,
  leadTimeVerdict,
  type TraceObservation,
} from '../../src/core/slo/lead-time.js';
import { DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import { SloSet, type SloDef } from '../../src/core/slo/slo-set.js';

const T = 600_000;
const T0 = Date.UTC(2026, 0, 1);
const def: SloDef = {
  name: 'lead',
  indicator: 'lead_time',
  objective: 0.9,
  windowMs: 3_600_000,
  thresholdMs: T,
  fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
  slow: DEFAULT_SLOW_BURN,
};

const trace = (root: number, receivedAt: number, doneAt: number | null): TraceObservation => ({
  type: 'trace',
  root,
  receivedAt,
  doneAt,
});

describe('leadTimeVerdict (table)', () => {
  it.each([
    // [what, received, done, now, verdict]
    ['done well within T', T0, T0 + 1_000, T0 + 1_000, { at: T0 + 1_000, good: true }],
    ['done exactly at T', T0, T0 + T, T0 + T, { at: T0 + T, good: true }],
    [
      'done 1 ms after T: bad at the deadline',
      T0,
      T0 + T + 1,
      T0 + T + 1,
      { at: T0 + T, good: false },
    ],
    ['not done, T not elapsed: undecided', T0, null, T0 + T - 1, null],
    ['not done when T elapsed: bad at the deadline', T0, null, T0 + T, { at: T0 + T, good: false }],
    [
      'not done long after T: still bad at the deadline',
      T0,
      null,
      T0 + 10 * T,
      { at: T0 + T, good: false },
    ],
    ['done in time but heard of after T: good', T0, T0 + 5, T0 + 5 * T, { at: T0 + 5, good: true }],
  ])('%s', (_what, received, done, now, expected) => {
    expect(leadTimeVerdict(received, done, now, T)).toEqual(expected);
  });
});

describe('leadTimeVerdict (properties)', () => {
  const times = fc.record({
    received: fc.integer({ min: 0, max: 1e9 }),
    took: fc.integer({ min: 0, max: 1e7 }),
    later: fc.integer({ min: 0, max: 1e7 }),
    threshold: fc.integer({ min: 1, max: 1e7 }),
  });
  it('finishing later never turns a bad version good (monotonic in the trace time)', () => {
    fc.assert(
      fc.property(times, ({ received, took, later, threshold }) => {
        const now = received + took + later + threshold;
        const sooner = leadTimeVerdict(received, received + took, now, threshold);
        const slower = leadTimeVerdict(received, received + took + later, now, threshold);
        expect(sooner).not.toBeNull();
        expect(slower).not.toBeNull();
        if (sooner!.good === false) expect(slower!.good).toBe(false);
      }),
    );
  });
  it('once decided, the verdict does not change as time passes', () => {
    fc.assert(
      fc.property(times, fc.boolean(), ({ received, took, later, threshold }, done) => {
        const doneAt = done ? received + took : null;
        const first = leadTimeVerdict(received, doneAt, received + took, threshold);
        const afterwards = leadTimeVerdict(received, doneAt, received + took + later, threshold);
        if (first !== null) expect(afterwards).toEqual(first);
      }),
    );
  });
  it('a bad verdict is never counted after the deadline (no waiting forever)', () => {
    fc.assert(
      fc.property(times, fc.boolean(), ({ received, took, threshold }, done) => {
        const v = leadTimeVerdict(
          received,
          done ? received + took : null,
          received + threshold,
          threshold,
        );
        expect(v).not.toBeNull();
        if (!v!.good) expect(v!.at).toBe(received + threshold);
      }),
    );
  });
});

describe('LeadTimeTally', () => {
  it('counts a version once however often the store reports it done', () => {
    const t = new LeadTimeTally(T, 3_600_000);
    expect(t.observe(trace(1, T0, null), T0 + 10)).toBeNull();
    expect(t.pendingRoots()).toEqual([1]);
    expect(t.observe(trace(1, T0, T0 + 100), T0 + 200)).toEqual({ at: T0 + 100, good: true });
    expect(t.observe(trace(1, T0, T0 + 100), T0 + 300)).toBeNull();
    expect(t.pendingRoots()).toEqual([]);
  });
  it('expires a version still open at its deadline, and ignores its late completion', () => {
    const t = new LeadTimeTally(T, 3_600_000);
    t.observe(trace(1, T0, null), T0);
    t.observe(trace(2, T0 + 1_000, null), T0 + 1_000);
    expect(t.expire(T0 + T - 1)).toEqual([]);
    expect(t.expire(T0 + T)).toEqual([{ at: T0 + T, good: false }]);
    expect(t.pendingRoots()).toEqual([2]);
    expect(t.nextDeadline()).toBe(T0 + 1_000 + T);
    expect(t.observe(trace(1, T0, T0 + T + 5), T0 + T + 10)).toBeNull();
  });
});

describe('SloSet with a lead_time SLO', () => {
  it('counts good, late and never-finished versions; ignores build changes', () => {
    const set = new SloSet([def]);
    set.observe(trace(1, T0, T0 + 60_000));
    set.observe(trace(2, T0, T0 + T + 60_000));
    set.observe(trace(3, T0 + 1_000, null), T0 + 1_000);
    set.observe({
      type: 'finished',
      build: {
        state: 'error',
        failureClass: 'network',
        attempt: 1,
        cause: { kind: 'version', source: 'app', version: 'v', eventId: 1 },
        queuedAt: T0,
        startedAt: T0,
        finishedAt: T0 + 1,
      },
    });
    // Version 3 is still open and its deadline has not passed: not counted yet.
    expect(set.evaluate(T0 + T + 500)[0]).toMatchObject({ good: 1, bad: 1 });
    expect(set.pendingTraces()).toEqual([3]);
    set.expire(T0 + 1_000 + T);
    const [r] = set.evaluate(T0 + 1_000 + T);
    expect(r).toMatchObject({ good: 1, bad: 2, attainment: 1 / 3 });
    expect(set.pendingTraces()).toEqual([]);
  });
  it('an empty window is ok and spends nothing', () => {
    const [r] = new SloSet([def]).evaluate(T0);
    expect(r).toMatchObject({ good: 0, bad: 0, attainment: 1, status: 'ok', fastBurn: false });
  });
  it('more late versions never raise attainment (monotonic in failures)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 * T }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 39 }),
        (took, k) => {
          const run = (slow: number) => {
            const set = new SloSet([def]);
            took.forEach((ms, i) =>
              set.observe(trace(i, T0 + i, T0 + i + (i === slow ? 2 * T + 1 : ms))),
            );
            return set.evaluate(T0 + 3 * T)[0]!.attainment;
          };
          expect(run(k)).toBeLessThanOrEqual(run(-1) + 1e-12);
        },
      ),
    );
  });
});
