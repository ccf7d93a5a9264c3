import { describe, expect, it } from 'vitest';
import { DeliveryTally, type DeliveryObservation } from '../../src/core/slo/delivery-tally.js';
import { DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import { judge, SloSet, type SloDef } from '../../src/core/slo/slo-set.js';

const def: SloDef = {
  name: 'delivery',
  indicator: 'delivery',
  objective: 0.99,
  windowMs: 3_600_000,
  thresholdMs: 10_000,
  fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
  slow: DEFAULT_SLOW_BURN,
};
const T0 = Date.UTC(2026, 0, 1);
const obs = (createdAt: number, doneAt: number, ok: boolean): DeliveryObservation => ({
  type: 'delivered',
  createdAt,
  doneAt,
  ok,
});

describe('delivery indicator', () => {
  it.each([
    ['every target in time', obs(T0, T0 + 2_000, true), true],
    ['exactly at the threshold', obs(T0, T0 + 10_000, true), true],
    ['the last target late', obs(T0, T0 + 10_001, true), false],
    ['a target gave it up (dead), however fast', obs(T0, T0 + 1, false), false],
  ] as const)('%s', (_what, o, good) => {
    expect(judge(def, o)).toEqual({ at: o.doneAt, good });
  });

  it('only delivery SLOs count deliveries; delivery SLOs count nothing else', () => {
    expect(judge({ ...def, indicator: 'reliability' }, obs(T0, T0, true))).toBeNull();
    const set = new SloSet([def]);
    set.observe({
      type: 'finished',
      build: {
        state: 'error',
        failureClass: 'network',
        attempt: 1,
        cause: { kind: 'definition' },
        queuedAt: T0,
        startedAt: T0,
        finishedAt: T0,
      },
    });
    set.observe(obs(T0, T0 + 20_000, true));
    expect(set.evaluate(T0 + 30_000)[0]).toMatchObject({ good: 0, bad: 1 });
  });
});

describe('DeliveryTally: an event is done when every target passed it', () => {
  it('waits for the slowest cursor, and remembers a dead delivery of any target', () => {
    const t = new DeliveryTally();
    t.seen(1, T0, true); // target A sent #1
    t.seen(2, T0 + 1, true); // target A sent #2
    expect(t.settle(0, T0 + 5)).toEqual([]); // target B is still before #1
    t.seen(1, T0, false); // B gave #1 up
    expect(t.settle(1, T0 + 7)).toEqual([obs(T0, T0 + 7, false)]);
    t.seen(2, T0 + 1, true);
    expect(t.settle(2, T0 + 9)).toEqual([obs(T0 + 1, T0 + 9, true)]);
    expect(t.size).toBe(0);
  });
});
