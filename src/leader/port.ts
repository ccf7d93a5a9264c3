/**
 * Who runs the loops that must run once per installation — the scheduler, the outbox relay,
 * report dispatch, retention and the fallback poller — when several server replicas share one
 * database. Every replica serves the API, webhooks, SSE and log streams whatever it says.
 *
 * Lifecycle: `start` once → `onChange(true)` when this replica becomes the leader,
 * `onChange(false)` as soon as it may no longer be (the session holding the lock is lost) — the
 * calls alternate, starting with `true` — → `stop`, which calls `onChange(false)` first when
 * leading, then gives the lead up. `onChange` must not throw.
 */
export interface Leadership {
  start(onChange: (leading: boolean) => void): void;
  /** Whether this replica leads now. */
  readonly leading: boolean;
  /** Safe to call twice; safe before `start`. */
  stop(): Promise<void>;
}
