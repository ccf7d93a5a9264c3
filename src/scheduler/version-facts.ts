import type { Ancestry, SourceEvent } from '../core/event.js';
import type { GitSource } from '../core/pipeline.js';
import type { SchedulerSnapshot } from '../core/scheduler/index.js';

/**
 * What the scheduler's shell may ask a git mirror about a version before deciding it. The
 * answer is handed to the pure `decide()` as data on the event (`SourceEvent.ancestry`).
 */
export interface VersionFacts {
  /** How `version` relates to `head` in `source`'s repository; may fetch; may reject. */
  relation(
    source: GitSource,
    version: string,
    head: string,
    signal: AbortSignal,
  ): Promise<Exclude<Ancestry['relation'], 'unknown'>>;
  /**
   * The answer when it is already known without git or waiting (a commit a recent fetch did not
   * find), else `null`. Synchronous, so a slice of the scheduler need not end for it.
   */
  known?(source: GitSource, version: string, head: string): Ancestry | null;
  /**
   * `true` when `version` is shown not to be an ancestor of `head` while the fetch bringing it in
   * still runs (the mirror has `head` and not `version`): it can be decided as new at once, and
   * the build's checkout joins that fetch. Never waits for the fetch.
   */
  notAncestorYet?(source: GitSource, version: string, head: string): Promise<boolean>;
  /**
   * Starts bringing `version` into the mirror without waiting (the start-early fetch), unless the
   * mirror has it or an answer about it, so that the questions about many versions are answered
   * by one fetch rather than one fetch each.
   */
  prefetch?(source: GitSource, version: string): void;
}

/** Longest the scheduler waits for one answer; then the version counts as `unknown` (new). */
const FACTS_TIMEOUT_MS = 10_000;

/**
 * The head a source event would be compared with, when the question is worth asking: a git
 * source with a different version on the same ref. `null` when there is nothing to ask.
 */
export function headToCompare(snapshot: SchedulerSnapshot, event: SourceEvent): string | null {
  if (event.origin === 'output' || event.ref === null) return null;
  const def = snapshot.pipeline.sources.get(event.source);
  if (def?.kind !== 'git') return null;
  const head = snapshot.heads(event.source).find((h) => h.ref === event.ref);
  return head === undefined || head.version === event.version ? null : head.version;
}

/**
 * Asks `facts` how `event.version` relates to `head`, within `timeoutMs`. Never rejects: a
 * failure or a timeout is an `unknown` answer with the reason, and the version is decided as new.
 */
export async function askAncestry(
  facts: VersionFacts,
  source: GitSource,
  version: string,
  head: string,
  timeoutMs = FACTS_TIMEOUT_MS,
): Promise<Ancestry> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer from the git mirror within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
  });
  try {
    const relation = await Promise.race([
      facts.relation(source, version, head, abort.signal),
      timedOut,
    ]);
    return { relation, head };
  } catch (err) {
    return { relation: 'unknown', head, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
