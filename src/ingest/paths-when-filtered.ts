import type { Pipeline } from '../core/pipeline.js';
import type { ChangedPathsLookup } from './changed-paths.js';

/**
 * `lookup` asked only for sources that a consuming job filters by path (`paths:` or
 * `paths_ignore:`); for every other source the answer is `null` (unknown) at once. The paths
 * decide nothing for a source nobody filters, and computing them (a fetch and a diff before the
 * event is even stored) held the webhook's answer and the build's start for tens of ms.
 */
export function pathsWhenFiltered(
  lookup: ChangedPathsLookup,
  pipeline: () => Pipeline,
): ChangedPathsLookup {
  return {
    knownHead: (source, ref) => lookup.knownHead(source, ref),
    changedPaths: (source, from, to, signal) => {
      const p = pipeline();
      const filtered = (p.consumers.get(source.name) ?? []).some((name) => {
        const job = p.jobs.get(name);
        return job !== undefined && (job.paths !== null || job.pathsIgnore !== null);
      });
      return filtered ? lookup.changedPaths(source, from, to, signal) : Promise.resolve(null);
    },
  };
}
