import type { JobDef, JobName, Pipeline } from './pipeline.js';

/** A job's `runs_on:` labels (none: it runs anywhere). */
export function runsOn(job: Pick<JobDef, 'runsOn'>): readonly string[] {
  return job.runsOn ?? [];
}

/**
 * The jobs a claimer with `labels` may run: those whose `runs_on:` labels it all has. `null` when
 * that is every job of the pipeline (the claim then needs no job filter). Local slots claim
 * with no labels: they never take a job that names any.
 */
export function claimableJobs(pipeline: Pipeline, labels: readonly string[]): JobName[] | null {
  const have = new Set(labels);
  const jobs = [...pipeline.jobs.values()];
  const ok = jobs.filter((j) => runsOn(j).every((l) => have.has(l))).map((j) => j.name);
  return ok.length === jobs.length ? null : ok;
}

/** What a queued build of `job` waits for, said by `status` and `why`; `null`: nothing special. */
export function waitingFor(job: Pick<JobDef, 'runsOn'>): string | null {
  const labels = runsOn(job);
  return labels.length === 0 ? null : `waiting for an agent with ${labels.join(', ')}`;
}
