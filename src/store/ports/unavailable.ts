/**
 * The database cannot be reached right now: the connection was refused, dropped or timed out, or
 * the server is shutting down or starting up. Nothing was decided by the statement that failed
 * this way except, when it was a COMMIT, possibly the commit itself — callers retry idempotent
 * work, the API answers 503 (`NL_UNAVAILABLE`) so a forge or client retries, loops retry later.
 * Adapters throw it in place of their driver's error (which stays as `cause`).
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
  readonly retryable = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Whether `err` (or an error it wraps) says the store is unreachable. */
export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
