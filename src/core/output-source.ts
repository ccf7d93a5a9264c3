import type { JobName, SourceName } from './pipeline.js';

/**
 * A job's output is a source named `<job>.<output>` (`build.dist`): how inputs name it, how its
 * versions are stored in the inbox and how trace and reports show it. Names hold no dots
 * (`config/names.ts`), so the dot is unambiguous and a name without one is not an output.
 */
export function outputSourceName(job: JobName, output: string): SourceName {
  return `${job}.${output}`;
}

/** The job and output an output source names; `null` for any other source (git, http, amqp). */
export function splitOutputSource(
  name: SourceName,
): { readonly job: JobName; readonly output: string } | null {
  const dot = name.indexOf('.');
  if (dot < 0) return null;
  return { job: name.slice(0, dot), output: name.slice(dot + 1) };
}
