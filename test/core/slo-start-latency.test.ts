import { describe, expect, it } from 'vitest';
import { DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import { SloSet, type SloDef, type SloObservation } from '../../src/core/slo/slo-set.js';

const def: SloDef = {
  name: 'start',
  indicator: 'start_latency',
  objective: 0.99,
  windowMs: 3_600_000,
  thresholdMs: 30_000,
  fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
  slow: DEFAULT_SLOW_BURN,
};
const T0 = Date.UTC(2026, 0, 1);

function started(
  eventId: number | null,
  queuedAt: number,
  startedAt: number,
  eventAt?: number | null,
): SloObservation {
  return {
    type: 'started',
    build: {
      state: 'running',
      failureClass: null,
      attempt: 1,
      cause: { kind: 'version', source: 'app', version: 'v', eventId },
      queuedAt,
      startedAt,
      finishedAt: null,
    },
    ...(eventAt === undefined ? {} : { eventAt }),
  };
}

function counts(...obs: SloObservation[]) {
  const set = new SloSet([def]);
  for (const o of obs) set.observe(o);
  const [r] = set.evaluate(T0 + 120_000);
  return { good: r!.good, bad: r!.bad };
}

describe('start_latency: event received → first build started', () => {
  it.each([
    // [what, event received, queued, started, good?]
    ['started at once after a prompt event', T0, T0, T0 + 1_000, true],
    ['exactly the threshold after the event', T0, T0, T0 + 30_000, true],
    ['queued at once but the event waited before deciding', T0, T0 + 40_000, T0 + 41_000, false],
    ['long in the queue', T0, T0, T0 + 31_000, false],
  ] as const)('%s', (_what, eventAt, queuedAt, startedAt, good) => {
    expect(counts(started(1, queuedAt, startedAt, eventAt))).toEqual(
      good ? { good: 1, bad: 0 } : { good: 0, bad: 1 },
    );
  });

  it('without the event time (the event is gone) measures from the queue time', () => {
    expect(counts(started(1, T0 + 40_000, T0 + 41_000, null))).toEqual({ good: 1, bad: 0 });
  });

  it('counts a version once, by its first build: other jobs starting later do not count', () => {
    expect(
      counts(
        started(7, T0, T0 + 1_000, T0),
        started(7, T0, T0 + 50_000, T0), // a second job's build of the same version
        started(8, T0, T0 + 50_000, T0),
      ),
    ).toEqual({ good: 1, bad: 1 });
  });

  it('ignores retries and builds no version caused', () => {
    const retry = started(9, T0, T0 + 90_000, T0);
    const o: SloObservation = { ...retry, build: { ...retry.build, attempt: 2 } };
    const manual: SloObservation = {
      ...retry,
      build: { ...retry.build, cause: { kind: 'manual', forced: false, by: null } },
    };
    expect(counts(o, manual)).toEqual({ good: 0, bad: 0 });
  });
});
