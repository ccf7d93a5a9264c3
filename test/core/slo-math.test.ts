import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketCounter } from '../../src/core/slo/bucket-counter.js';
import {
  DEFAULT_FAST_BURN,
  alertFires,
  budget,
  burnRate,
  sloStatus,
  type Counts,
} from '../../src/core/slo/slo-math.js';

describe('budget (table)', () => {
  const rows: Array<
    [
      Counts,
      number,
      { attainment: number; budgetEvents: number; remainingEvents: number; remainingShare: number },
    ]
  > = [
    [
      { good: 0, bad: 0 },
      0.99,
      { attainment: 1, budgetEvents: 0, remainingEvents: 0, remainingShare: 1 },
    ],
    [
      { good: 1000, bad: 0 },
      0.99,
      { attainment: 1, budgetEvents: 10, remainingEvents: 10, remainingShare: 1 },
    ],
    [
      { good: 995, bad: 5 },
      0.99,
      { attainment: 0.995, budgetEvents: 10, remainingEvents: 5, remainingShare: 0.5 },
    ],
    [
      { good: 990, bad: 10 },
      0.99,
      { attainment: 0.99, budgetEvents: 10, remainingEvents: 0, remainingShare: 0 },
    ],
    [
      { good: 980, bad: 20 },
      0.99,
      { attainment: 0.98, budgetEvents: 10, remainingEvents: -10, remainingShare: -1 },
    ],
    [
      { good: 10, bad: 0 },
      1,
      { attainment: 1, budgetEvents: 0, remainingEvents: 0, remainingShare: 1 },
    ],
  ];
  it.each(rows)('%j at %s', (c, o, expected) => {
    const b = budget(c, o);
    for (const [k, v] of Object.entries(expected)) expect(b[k as keyof typeof b]).toBeCloseTo(v, 9);
  });
  it('an objective of 1 with a bad event has no budget left at all', () => {
    expect(budget({ good: 10, bad: 1 }, 1).remainingShare).toBe(-Infinity);
  });
});

describe('burn rate and status (table)', () => {
  const rows: Array<[string, Counts, number, number]> = [
    ['empty window', { good: 0, bad: 0 }, 0.99, 0],
    ['no failures', { good: 50, bad: 0 }, 0.99, 0],
    ['exactly on budget', { good: 99, bad: 1 }, 0.99, 1],
    ['all bad at 99 %', { good: 0, bad: 10 }, 0.99, 100],
    ['15 % bad at 99 %: pages', { good: 85, bad: 15 }, 0.99, 15],
    ['objective 1, one bad', { good: 9, bad: 1 }, 1, Infinity],
  ];
  it.each(rows)('%s', (_n, c, o, expected) => {
    expect(burnRate(c, o)).toBeCloseTo(expected, 9);
  });

  it('status: ok, burning (fast alert fires), exhausted (budget spent)', () => {
    const quiet = { good: 1000, bad: 0 };
    expect(sloStatus(quiet, 0.99, false, false)).toBe('ok');
    const fires = alertFires({ good: 80, bad: 20 }, { good: 8, bad: 2 }, 0.99, DEFAULT_FAST_BURN);
    expect(fires).toBe(true);
    expect(sloStatus({ good: 10_000, bad: 20 }, 0.99, fires, false)).toBe('burning');
    expect(sloStatus({ good: 1000, bad: 11 }, 0.99, fires, false)).toBe('exhausted');
    // One long window burning alone does not page: the short window must agree (it recovered).
    expect(alertFires({ good: 80, bad: 20 }, { good: 10, bad: 0 }, 0.99, DEFAULT_FAST_BURN)).toBe(
      false,
    );
  });
});

const counts = fc.record({ good: fc.nat(1_000_000), bad: fc.nat(1_000_000) });
const objective = fc.double({ min: 0.5, max: 0.99999, noNaN: true });

describe('properties', () => {
  it('one more failure never raises attainment or remaining budget, never lowers the burn rate', () => {
    fc.assert(
      fc.property(counts, objective, (c, o) => {
        const worse = { good: c.good, bad: c.bad + 1 };
        expect(budget(worse, o).attainment).toBeLessThanOrEqual(budget(c, o).attainment);
        expect(budget(worse, o).remainingEvents).toBeLessThan(budget(c, o).remainingEvents);
        expect(burnRate(worse, o)).toBeGreaterThanOrEqual(burnRate(c, o));
      }),
    );
  });

  it('turning a success into a failure never improves the status', () => {
    const rank = { ok: 0, burning: 1, exhausted: 2 } as const;
    fc.assert(
      fc.property(counts, objective, fc.boolean(), (c, o, fires) => {
        fc.pre(c.good > 0);
        const worse = { good: c.good - 1, bad: c.bad + 1 };
        expect(rank[sloStatus(worse, o, fires, false)]).toBeGreaterThanOrEqual(
          rank[sloStatus(c, o, fires, false)],
        );
      }),
    );
  });

  it('attainment is in [0, 1]; the burn rate is 1 exactly when the bad share equals the allowance', () => {
    fc.assert(
      fc.property(counts, objective, (c, o) => {
        const a = budget(c, o).attainment;
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
      }),
    );
    expect(burnRate({ good: 999, bad: 1 }, 0.999)).toBeCloseTo(1, 9);
  });

  it('bucketed counts equal a full scan of the same events (1 ms buckets: exact window edges)', () => {
    const event = fc.record({ at: fc.integer({ min: 0, max: 5_000 }), good: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 200 }),
        fc.integer({ min: 0, max: 6_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        (events, now, windowMs) => {
          const sorted = [...events].sort((a, b) => a.at - b.at);
          const counter = new BucketCounter(1, 10_000);
          for (const e of sorted) counter.add(e.at, e.good);
          const inWindow = sorted.filter((e) => e.at > now - windowMs && e.at <= now);
          expect(counter.counts(now, windowMs)).toEqual({
            good: inWindow.filter((e) => e.good).length,
            bad: inWindow.filter((e) => !e.good).length,
          });
        },
      ),
    );
  });

  it('an empty window burns nothing and is ok', () => {
    const counter = new BucketCounter(60_000, 28 * 86_400_000);
    counter.add(0, false);
    const later = 10 * 86_400_000;
    const c = counter.counts(later, 3_600_000);
    expect(c).toEqual({ good: 0, bad: 0 });
    expect(burnRate(c, 0.99)).toBe(0);
  });

  it('events older than the horizon drop out; a ring slot reused for a newer bucket forgets the old one', () => {
    const counter = new BucketCounter(10, 100);
    counter.add(5, false);
    counter.add(5 + counter.size * 10, true); // same slot, one ring later
    expect(counter.counts(5 + counter.size * 10, 100)).toEqual({ good: 1, bad: 0 });
    counter.add(5, false); // too old now: ignored
    expect(counter.counts(5 + counter.size * 10, 100)).toEqual({ good: 1, bad: 0 });
  });
});
