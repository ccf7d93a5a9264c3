import type { FailureClass } from './failure-class.js';
import type { RetryPolicy } from './pipeline.js';

/** Longest wait before a retry, however many attempts double it. */
export const MAX_RETRY_BACKOFF_MS = 15 * 60_000;

/**
 * Whether a build that just ended is re-run, and after how long. Pure: the runner asks it before
 * recording the ending, so a build about to be retried is recorded without a lifecycle event of
 * its own (the retry's events carry the result — reported once, at the end).
 *
 * Retried: the class is one of the job's `retry.on` and fewer than `retry.attempts` attempts ran.
 * The wait is `backoff × 2^(attempt-1)`, capped at {@link MAX_RETRY_BACKOFF_MS}. `user`,
 * `cancelled` and `superseded` endings are never retried, whatever the policy says.
 */
export function retryPlan(
  policy: RetryPolicy | undefined,
  attempt: number,
  failureClass: FailureClass | null,
): { readonly delayMs: number } | null {
  if (policy === undefined || failureClass === null) return null;
  if (failureClass === 'user' || failureClass === 'cancelled' || failureClass === 'superseded')
    return null;
  if (!(policy.on as readonly string[]).includes(failureClass)) return null;
  if (attempt >= policy.attempts) return null;
  const delayMs = Math.min(MAX_RETRY_BACKOFF_MS, policy.backoffMs * 2 ** Math.max(0, attempt - 1));
  return { delayMs };
}
