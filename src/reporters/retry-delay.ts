/** Exponential backoff bounds (ms). */
export interface RetryBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** HTTP deliveries: 1 s, 2 s, 4 s … capped at 5 minutes (8 attempts span about 2 minutes). */
export const DELIVERY_BACKOFF: RetryBackoff = { initialMs: 1_000, maxMs: 300_000 };
/** Reconnecting to a broker. */
export const RECONNECT_BACKOFF: RetryBackoff = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before retry `failures` (1 after the first failure): exponential, capped, with "equal
 * jitter" (half fixed, half random) so targets that failed together spread out.
 */
export function retryDelay(
  failures: number,
  backoff: RetryBackoff,
  random: () => number = Math.random,
): number {
  const exp = Math.max(0, Math.min(failures - 1, 30));
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exp);
  return Math.round(base / 2 + (random() * base) / 2);
}
