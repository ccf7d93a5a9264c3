/** Exponential backoff bounds (ms). */
export interface Backoff {
  /** The delay after the first failure. */
  readonly initialMs: number;
  /** Cap on the delay. */
  readonly maxMs: number;
}

/** HTTP deliveries: 1 s, 2 s, 4 s … capped at 5 minutes (8 attempts span about 2 minutes). */
export const DELIVERY_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 300_000 };
/** Reconnecting to a broker (AMQP inputs and the AMQP report): 0.5 s doubling to 30 s. */
export const RECONNECT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before retry `failures` (1 after the first failure): exponential, capped, with "equal
 * jitter" (half fixed, half random) so peers that failed together — targets down at once,
 * consumers restarted by a broker restart — spread out. `random` is the caller's (core draws no
 * randomness of its own): `Math.random` in production, a fixed value in tests.
 */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number): number {
  const exp = Math.max(0, Math.min(failures - 1, 30));
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exp);
  return Math.round(base / 2 + (random() * base) / 2);
}
