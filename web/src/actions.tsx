import { useState } from 'preact/hooks';
import { ApiFailure, post } from './api.js';
import type { TriggerResult } from './api-types.js';
import { ErrorNote } from './components.js';
import { navigate } from './router.js';
import { askForToken, getToken } from './token.js';

/**
 * A button for a write action (trigger, rebuild, cancel, poll, retry, approve). Actions always
 * need the API token: without one, or with one that lacks `scope` (a 403), the button says so and
 * opens the token dialog naming the scope instead of failing.
 */
export function ActionButton<T>({
  label,
  run,
  done,
  danger,
  scope = 'trigger',
}: {
  label: string;
  run: () => Promise<T>;
  done?: (r: T) => string | null;
  danger?: boolean;
  scope?: 'trigger' | 'approve';
}) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const click = async () => {
    setError(null);
    setResult(null);
    if (!getToken()) {
      setError(new ApiFailure(401, 'NL_UNAUTHORIZED', 'no token'));
      askForToken(`“${label}” needs an API token with the ${scope} scope.`, scope);
      return;
    }
    setBusy(true);
    try {
      const r = await run();
      // `done` returning null: the caller shows the outcome itself.
      setResult(done ? done(r) : 'done');
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401)
        askForToken(`“${label}” needs an API token with the ${scope} scope.`, scope);
      if (err instanceof ApiFailure && err.status === 403)
        askForToken(
          `The token you set lacks the ${scope} scope, which “${label}” needs: enter one that has it.`,
          scope,
        );
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button
        type="button"
        class={danger ? 'danger' : ''}
        disabled={busy}
        onClick={() => void click()}
      >
        {label}
      </button>
      {result && <span role="status">{result}</span>}
      {error ? <ErrorNote error={error} /> : null}
    </span>
  );
}

/** The answer to a trigger or rebuild: open the new build, or say why nothing was built. */
export function afterTrigger(r: TriggerResult): string | null {
  if (r.build) {
    navigate(`/builds/${r.build.id}`);
    return `queued build #${r.build.id}`;
  }
  return `nothing to build: ${r.decisions.map((d) => d.detail).join('; ') || 'no decision'}`;
}

export function trigger(job: string, body: { force?: boolean; inputs?: Record<string, string> }) {
  return post<TriggerResult>(`/api/jobs/${encodeURIComponent(job)}/trigger`, {
    ...body,
    by: 'dashboard',
  });
}
