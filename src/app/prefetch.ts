import { announcedGitVersions } from '../core/event.js';
import type { Pipeline } from '../core/pipeline.js';
import type { NewEvent } from '../store/ports.js';
import type { GitMirrors } from '../executor/git-mirror.js';

/**
 * Start early: begins fetching every git version `events` announce into its mirror as soon as
 * the events are accepted, in parallel with the inbox write and the scheduler's decision, so the
 * ancestry question and the build's checkout find the commit there. Returns at once; a failed
 * fetch is left for the build (or the scheduler's question) to meet and report.
 */
export function prefetchEvents(
  mirrors: GitMirrors,
  pipeline: Pipeline,
  events: readonly NewEvent[],
): void {
  for (const { source, version } of announcedGitVersions(pipeline, events))
    mirrors.prefetch(source.url, version);
}
