import type { Logger } from 'pino';
import { retryThroughOutage } from '../../async/retry-through-outage.js';
import { isStoreUnavailable } from '../../store/ports/unavailable.js';

export interface StoreWait {
  readonly build: number;
  readonly log: Logger;
  /** The server is stopping: give up at once. */
  readonly stopping: () => boolean;
  /** The build was cancelled: give up at once. */
  readonly signal?: AbortSignal;
}

/**
 * Runs a store call again while the store is unavailable (a database restart): what it reads or
 * writes is only in memory until then, and the build's slot stays busy. Gives up (rethrows) when
 * the server stops, when the build is cancelled, or after ~10 minutes; any other error at once.
 */
export function whileStoreDown<T>(
  wait: StoreWait,
  waiting: string,
  call: () => Promise<T>,
): Promise<T> {
  return retryThroughOutage(call, {
    isOutage: isStoreUnavailable,
    giveUp: wait.stopping,
    signal: wait.signal,
    onFirst: (err) => wait.log.warn({ build: wait.build, reason: (err as Error).message }, waiting),
  });
}
