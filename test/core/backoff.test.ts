import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DELIVERY_BACKOFF, RECONNECT_BACKOFF } from '../../src/core/backoff.js';

describe('backoffDelay', () => {
  it('doubles from the first delay and stops at the cap, half of it jittered', () => {
    const low = (n: number) => backoffDelay(n, RECONNECT_BACKOFF, () => 0);
    const high = (n: number) => backoffDelay(n, RECONNECT_BACKOFF, () => 0.999_999);
    expect([1, 2, 3, 4].map(low)).toEqual([250, 500, 1000, 2000]);
    expect([1, 2, 3, 4].map(high)).toEqual([500, 1000, 2000, 4000]);
    expect(high(7)).toBe(30_000);
    expect(high(1_000)).toBe(30_000);
    expect(backoffDelay(4, DELIVERY_BACKOFF, () => 0.999_999)).toBe(8_000);
  });

  it('stays within [base/2, base] for any failure count and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, r) => {
          const d = backoffDelay(n, DELIVERY_BACKOFF, () => r);
          const base = Math.min(300_000, 1_000 * 2 ** Math.max(0, Math.min(n - 1, 30)));
          return d >= Math.round(base / 2) && d <= base;
        },
      ),
    );
  });
});
