/**
 * Whose failure an unsuccessful build is, decided in one place. The class is stored on the
 * build when it ends and travels with it to the API, the CLI, CloudEvents, commit statuses,
 * webhooks and metrics; the reliability SLO counts `network` and `infrastructure` against the
 * system and never `user`.
 */
export const FAILURE_CLASSES = [
  'user',
  'timeout',
  'network',
  'infrastructure',
  'cancelled',
  'superseded',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Classes nightless itself is to blame for: they burn the reliability budget and may be retried. */
export const SYSTEM_FAILURE_CLASSES: readonly FailureClass[] = ['network', 'infrastructure'];

export function isFailureClass(v: unknown): v is FailureClass {
  return typeof v === 'string' && (FAILURE_CLASSES as readonly string[]).includes(v);
}

/** How a build ended, as much as the classification needs. */
export type BuildEnding =
  | { readonly state: 'passed' | 'skipped' | 'queued' | 'running' }
  /** `signal`: the signal that ended the failing step's process, when one did. */
  | { readonly state: 'failed'; readonly signal?: string | null }
  /** `code`: the stable error code (`RunErrorCode`, `lost`, ...). */
  | { readonly state: 'error'; readonly code: string }
  | { readonly state: 'cancelled' | 'superseded' };

const TIMEOUT_CODES = new Set(['timeout', 'step-timeout', 'no-output-timeout']);

/**
 * The failure class of an ending; `null` for builds that did not fail (passed, skipped, active).
 *
 * - `failed`: the steps said no → `user`; except a step killed by SIGKILL, which no step sends
 *   itself in practice (the kernel's OOM killer, an operator, a dying machine) → `infrastructure`.
 * - `error`: timeouts → `timeout`; `network` → `network`; every other code (lost, disk, spawn,
 *   checkout that is not a network failure, workspace, internal, ...) → `infrastructure`, except
 *   `outputs` (a declared output the steps did not make) → `user`.
 */
export function failureClassOf(ending: BuildEnding): FailureClass | null {
  switch (ending.state) {
    case 'passed':
    case 'skipped':
    case 'queued':
    case 'running':
      return null;
    case 'failed':
      return ending.signal === 'SIGKILL' ? 'infrastructure' : 'user';
    case 'error':
      if (TIMEOUT_CODES.has(ending.code)) return 'timeout';
      if (ending.code === 'network') return 'network';
      if (ending.code === 'outputs') return 'user';
      return 'infrastructure';
    case 'cancelled':
      return 'cancelled';
    case 'superseded':
      return 'superseded';
  }
}

/**
 * The class of a stored build from its columns, for rows written before the class was stored
 * (migration 0008) and for endings whose code is only in the reason: an error's `reason` starts
 * with its code (`core/build-ending.ts`, `storedReason`), a SIGKILLed step's says so.
 */
export function failureClassOfStored(state: string, reason: string | null): FailureClass | null {
  switch (state) {
    case 'failed':
      return failureClassOf({
        state,
        signal: reason !== null && /was killed by SIGKILL\b/.test(reason) ? 'SIGKILL' : null,
      });
    case 'error': {
      const code = /^([a-z-]+)(?::|\s|$)/.exec(reason ?? '')?.[1] ?? 'internal';
      return failureClassOf({ state, code });
    }
    case 'cancelled':
    case 'superseded':
      return failureClassOf({ state });
    default:
      return null;
  }
}

/** Words for the class, as commit statuses and one-liners show it: `network failure`. */
export function describeFailureClass(c: FailureClass): string {
  switch (c) {
    case 'user':
      return 'step failure';
    case 'timeout':
      return 'timeout';
    case 'network':
      return 'network failure';
    case 'infrastructure':
      return 'infrastructure failure';
    case 'cancelled':
      return 'cancelled';
    case 'superseded':
      return 'superseded';
  }
}
