import type { JobName, SourceName } from '../pipeline.js';
import type { Decision } from './types.js';

// The wording every decision shares, so the trace reads the same whichever rule wrote it.

export function note(d: Omit<Extract<Decision, { kind: 'note' }>, 'kind'>): Decision {
  return { kind: 'note', ...d };
}

export function unknownJob(job: JobName): Decision {
  return note({
    job,
    source: null,
    version: null,
    rule: 'unknown-job',
    detail: `no job "${job}" in the pipeline`,
  });
}

/** `app@3f2a1c0` for commit-like versions, the whole version otherwise. */
export function short(source: SourceName, version: string): string {
  return `${source}@${/^[0-9a-f]{40,64}$/.test(version) ? version.slice(0, 10) : version}`;
}
