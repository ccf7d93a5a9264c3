import type { Build, BuildState } from '../core/build.js';

/**
 * A `Build` with every field filled in, for tests of pure functions over builds (trace, ETA):
 * the id, job, state and start time vary; the rest is a plain definition-caused first attempt.
 */
export function buildFixture(
  id: number,
  job: string,
  state: BuildState = 'passed',
  startedAt: number | null = null,
): Build {
  return {
    id,
    job,
    state,
    fingerprint: `fp${id}`,
    inputs: [],
    cause: { kind: 'definition' },
    forced: false,
    queuedAt: 0,
    startedAt,
    finishedAt: null,
    failedStep: null,
    reason: null,
    failureClass: null,
    relatedBuild: null,
    exitCode: null,
    coverage: null,
    attempt: 1,
    concurrencyGroup: job,
  };
}
