import { describe, expect, it } from 'vitest';
import { nextPollDelay, POLL_CEILING_MS, POLL_FLOOR_MS } from '../../src/core/poll-interval.js';

const mid = 0.5; // no jitter

describe('nextPollDelay', () => {
  it('uses the configured interval when all is well', () => {
    expect(nextPollDelay({ baseMs: 600_000, failures: 0, missedStreak: 0, random: mid })).toBe(
      600_000,
    );
  });
  it('spreads polls by at most ±10 %', () => {
    expect(nextPollDelay({ baseMs: 600_000, failures: 0, missedStreak: 0, random: 0 })).toBe(
      540_000,
    );
    expect(
      nextPollDelay({ baseMs: 600_000, failures: 0, missedStreak: 0, random: 0.999999 }),
    ).toBeLessThanOrEqual(660_000);
  });
  it('backs off exponentially after failures, up to the ceiling', () => {
    expect(nextPollDelay({ baseMs: 60_000, failures: 1, missedStreak: 0, random: mid })).toBe(
      120_000,
    );
    expect(nextPollDelay({ baseMs: 60_000, failures: 3, missedStreak: 0, random: mid })).toBe(
      480_000,
    );
    expect(nextPollDelay({ baseMs: 60_000, failures: 30, missedStreak: 0, random: mid })).toBe(
      POLL_CEILING_MS,
    );
  });
  it('tightens after missed events, down to the floor', () => {
    expect(nextPollDelay({ baseMs: 600_000, failures: 0, missedStreak: 1, random: mid })).toBe(
      300_000,
    );
    expect(nextPollDelay({ baseMs: 600_000, failures: 0, missedStreak: 10, random: mid })).toBe(
      POLL_FLOOR_MS,
    );
    // An interval already below the floor is not raised by misses.
    expect(nextPollDelay({ baseMs: 5_000, failures: 0, missedStreak: 3, random: mid })).toBe(5_000);
  });
});
