import type { BuildInput } from './build.js';
import type { JobDef, Pipeline } from './pipeline.js';

/**
 * Which builds share a job's `concurrency` limit: the job plus the branch of its first git input
 * (`build@main`); a job without a git input is one group (`build`). Builds of other branches
 * and other jobs never wait for this group's slots.
 *
 * The first git input in `inputs:` order is the job's primary repository: a job with several git
 * inputs is grouped by that one's branch only, so a push to a secondary repository waits for a
 * running build of the same primary branch.
 */
export function concurrencyGroup(
  pipeline: Pipeline,
  job: JobDef,
  inputs: readonly BuildInput[],
): string {
  for (const input of inputs) {
    if (pipeline.sources.get(input.source)?.kind !== 'git') continue;
    return input.ref === null ? job.name : `${job.name}@${input.ref}`;
  }
  return job.name;
}
