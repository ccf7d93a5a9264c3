/** Limits of the fallback poll interval. */
export const POLL_FLOOR_MS = 30_000;
export const POLL_CEILING_MS = 60 * 60_000;

/**
 * When to poll a source next. Failures back off exponentially (to the ceiling); a run of missed
 * events halves the interval per miss (to the floor) — events are evidently not arriving, so
 * the safety net tightens until they do. `random` in [0, 1) spreads polls by ±10 %.
 */
export function nextPollDelay(p: {
  readonly baseMs: number;
  readonly failures: number;
  readonly missedStreak: number;
  readonly random: number;
}): number {
  let ms = p.baseMs;
  if (p.failures > 0)
    ms = Math.min(POLL_CEILING_MS, Math.max(ms, POLL_FLOOR_MS) * 2 ** Math.min(p.failures, 10));
  else if (p.missedStreak > 0)
    ms = Math.max(Math.min(ms, POLL_FLOOR_MS), ms / 2 ** Math.min(p.missedStreak, 10));
  const jitter = 1 + (p.random * 2 - 1) * 0.1;
  return Math.round(ms * jitter);
}
