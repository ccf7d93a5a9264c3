import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiFailure } from './api.js';
import type { BuildState, FailureClass } from './api-types.js';
import { FAILURE_CLASS, STATE_ICON } from './format.js';
import { askForToken, onTokenChange } from './token.js';

export function StateBadge({ state }: { state: BuildState }) {
  return (
    <span class={`state state-${state}`}>
      <span aria-hidden="true">{STATE_ICON[state]}</span> {state}
    </span>
  );
}

/** Whose failure a build is: icon + word, with what it means as a tooltip. */
export function FailureBadge({ cls }: { cls: FailureClass | null }) {
  if (cls === null) return null;
  const f = FAILURE_CLASS[cls];
  return (
    <span class="failure-class" title={f.means} data-failure-class={cls}>
      <span aria-hidden="true">{f.icon}</span> {cls}
    </span>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  const text = error instanceof ApiFailure ? error.advice : String(error);
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export interface Loaded<T> {
  readonly data: T | null;
  readonly error: unknown;
  readonly reload: () => void;
}

/**
 * GETs `path` (null: nothing to load) and reloads when the token changes. A 401 opens the token
 * dialog: reads follow the server's read-auth setting, so a protected server asks once per tab.
 */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; for: string | null }>({
    data: null,
    error: null,
    for: null,
  });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => onTokenChange(reload), [reload]);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    api<T>(path).then(
      (data) => live && setState({ data, error: null, for: path }),
      (error: unknown) => {
        if (!live) return;
        if (error instanceof ApiFailure && error.status === 401)
          askForToken('Reading this server needs an API token.', 'read');
        setState((s) => ({ data: s.for === path ? s.data : null, error, for: path }));
      },
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  return { data: state.for === path ? state.data : null, error: state.error, reload };
}

/** `Date.now()` that re-renders every `ms` (running times tick). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
