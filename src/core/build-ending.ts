/**
 * How a build's ending is put into words, in one place, so each part reads once.
 *
 * A build's `reason` is a phrase that stands on its own in the API (`step "test" exited with
 * code 1`, `cancelled by api`, `timeout: job "build" timed out after 5m`). Whoever shows it next
 * to the state or the failed step adds only what the reason does not already say: the old
 * compositions printed `step "test": step "test" exited with code 1` and `cancelled: cancelled`.
 */

/** What a run's outcome stores as the build's `reason`: an error's stable code comes first. */
export function storedReason(
  outcome:
    | { readonly state: 'passed' }
    | { readonly state: 'failed' | 'cancelled'; readonly reason: string }
    | { readonly state: 'error'; readonly code: string; readonly reason: string },
): string | null {
  switch (outcome.state) {
    case 'passed':
      return null;
    case 'error':
      return startsWithWord(outcome.reason, outcome.code)
        ? outcome.reason
        : `${outcome.code}: ${outcome.reason}`;
    case 'failed':
    case 'cancelled':
      return outcome.reason;
  }
}

/**
 * `failed: step "test" exited with code 1`, `cancelled by api` (not `cancelled: cancelled by
 * api`), `cancelled` for a bare `cancelled` reason; the state alone without a reason.
 */
export function describeEnding(state: string, reason: string | null): string {
  if (reason === null || reason === '') return state;
  return startsWithWord(reason, state) ? reason : `${state}: ${reason}`;
}

/** The failed step and the reason, the step only when the reason does not name it already. */
export function describeFailure(step: string | null, reason: string | null): string | null {
  const named = step === null ? null : `step ${JSON.stringify(step)}`;
  if (reason === null || reason === '') return named;
  if (named === null || reason.includes(named)) return reason;
  return `${named}: ${reason}`;
}

/** The closing system line of a build's log, for a build that did not pass: `!!! failed: …`. */
export function closingLine(state: string, reason: string | null): string {
  return `!!! ${describeEnding(state, reason)}`;
}

/** `word`, `word: …` or `word …` (not `wordy`). */
function startsWithWord(text: string, word: string): boolean {
  if (!text.startsWith(word)) return false;
  const next = text.charAt(word.length);
  return next === '' || next === ':' || next === ' ';
}
