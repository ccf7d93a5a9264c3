import type { Logger } from 'pino';
import { isStoreUnavailable } from '../../store/ports/unavailable.js';

/** Pauses between attempts at a store call: about 10 minutes in all. */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, ...Array<number>(120).fill(5000)];

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
export async function whileStoreDown<T>(
  wait: StoreWait,
  waiting: string,
  call: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const pause = BACKOFF_MS[attempt];
      if (!isStoreUnavailable(err) || pause === undefined) throw err;
      if (wait.stopping() || wait.signal?.aborted === true) throw err;
      if (attempt === 0) wait.log.warn({ build: wait.build, reason: err.message }, waiting);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
