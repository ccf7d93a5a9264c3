import type { GitSource, SourceName } from '../core/pipeline.js';

/**
 * Where ingest learns the paths a git version changed when its event does not say (git hooks,
 * fallback polls, generic webhooks without `changed_paths`): the git mirror.
 */
export interface ChangedPathsLookup {
  /**
   * Paths that differ between `from` and `to` in `source`'s repository; `from` `null` (a new
   * branch): against `to`'s first parent. `null` when it cannot be told. May reject.
   */
  changedPaths(
    source: GitSource,
    from: string | null,
    to: string,
    signal: AbortSignal,
  ): Promise<readonly string[] | null>;
  /** The version nightless knows as the head of `source` on `ref` (the base for a notice with no "old"). */
  knownHead(source: SourceName, ref: string): Promise<string | null>;
}

/** Longest one look-up may take before the event goes in without paths ("unknown"). */
export const CHANGED_PATHS_TIMEOUT_MS = 10_000;

/**
 * `lookup.changedPaths` within `timeoutMs`. Never rejects: a failure or a timeout is `null`
 * ("unknown": the event then passes every path filter, as docs/scheduling.md says), because an
 * event must never be lost for want of a detail.
 */
export async function changedPathsOrUnknown(
  lookup: ChangedPathsLookup,
  source: GitSource,
  from: string | null,
  to: string,
  timeoutMs = CHANGED_PATHS_TIMEOUT_MS,
): Promise<readonly string[] | null> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(null);
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      lookup.changedPaths(source, from, to, abort.signal).catch(() => null),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
