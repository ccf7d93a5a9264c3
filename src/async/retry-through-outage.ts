/** Pauses between attempts while a dependency is away: about 10 minutes in all. */
const OUTAGE_BACKOFF_MS = [250, 500, 1000, 2000, 4000, ...Array<number>(120).fill(5000)];

export interface OutageRetry {
  /** Whether `err` means "unavailable for now" (any other error is thrown at once). */
  readonly isOutage: (err: unknown) => boolean;
  /** Give up now (the caller is stopping): the last error is thrown. */
  readonly giveUp: () => boolean;
  /** Give up when it aborts (a cancelled build); the pause in between ends at once. */
  readonly signal?: AbortSignal | undefined;
  /** Told of the first outage error (to log it once). */
  readonly onFirst: (err: unknown) => void;
}

/**
 * Runs `call` again while it fails with an outage (a database restart): the caller's work is
 * only in memory until then. Rethrows any other error at once, and the outage error when `giveUp`
 * says so, when `signal` aborts, or after ~10 minutes.
 */
export async function retryThroughOutage<T>(call: () => Promise<T>, o: OutageRetry): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const pause = OUTAGE_BACKOFF_MS[attempt];
      if (!o.isOutage(err) || pause === undefined || o.giveUp() || o.signal?.aborted === true)
        throw err;
      if (attempt === 0) o.onFirst(err);
      await pauseFor(pause, o.signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pauseFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
