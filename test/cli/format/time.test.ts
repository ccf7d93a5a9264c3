import { describe, expect, it } from 'vitest';
import {
  formatClock,
  formatRelative,
  formatSpan,
  formatTimestamp,
  formatWhen,
} from '../../../src/cli/format/time.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('formatSpan', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [42 * S, '42s'],
    [4 * M + 12 * S, '4m12s'],
    [3 * M, '3m'],
    [H + 5 * M + 59 * S, '1h5m'],
    [2 * H, '2h'],
    [2 * D + 3 * H, '2d3h'],
    [-5, '0ms'],
  ])('%i ms → %s', (ms, text) => {
    expect(formatSpan(ms)).toBe(text);
  });
});

describe('formatRelative', () => {
  const now = Date.UTC(2025, 2, 1, 12);
  it.each([
    [now, 'just now'],
    [now - 4 * S, 'just now'],
    [now - 12 * S, '12s ago'],
    [now - 3 * M - 59 * S, '3m ago'],
    [now - 5 * H, '5h ago'],
    [now - 2 * D - H, '2d ago'],
    [now + 4 * M + 12 * S, 'in 4m12s'],
    [now + 30 * S, 'in 30s'],
    [now + 2 * H, 'in 2h'],
  ])('%i → %s', (at, text) => {
    expect(formatRelative(at, now)).toBe(text);
  });
});

describe('absolute times (local)', () => {
  // Built from local fields, so the test holds in every time zone.
  const at = new Date(2025, 0, 9, 7, 5, 3).getTime();

  it('formats the clock and the timestamp with zero padding', () => {
    expect(formatClock(at)).toBe('07:05:03');
    expect(formatTimestamp(at)).toBe('2025-01-09 07:05:03');
  });

  it('formatWhen gives both', () => {
    expect(formatWhen(at, at + 3 * M)).toBe('2025-01-09 07:05:03 (3m ago)');
  });
});
