import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { EnvValue, JobDef, SourceName } from './pipeline.js';

/**
 * The part of a job that decides what its build produces. Scheduling knobs (supersede, filters,
 * quiet period, publish targets) are left out on purpose: changing them must not rebuild.
 * Environment values enter as written (`${env:TOKEN}`), so rotating a secret does not rebuild.
 */
export function canonicalDefinition(job: JobDef): string {
  const env = (vars: Readonly<Record<string, EnvValue>>) =>
    Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.template]));
  return canonicalJson({
    // Two jobs with equal steps are still two jobs: each has its own builds and history.
    job: job.name,
    inputs: job.inputs,
    steps: job.steps.map((s) => ({
      name: s.name,
      run: s.run,
      env: env(s.env),
      timeoutMs: s.timeoutMs,
    })),
    env: env(job.env),
    timeoutMs: job.timeoutMs,
    noOutputTimeoutMs: job.noOutputTimeoutMs,
    outputs: job.outputs,
    coverage: job.coverage,
    // A build on other machines (arm64 rather than x86-64) is another build; absent when empty so
    // the hashes of jobs without labels stay what they were.
    ...(job.runsOn && job.runsOn.length > 0 ? { runsOn: [...job.runsOn].sort() } : {}),
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function definitionHash(job: JobDef): string {
  return sha256(canonicalDefinition(job));
}

/** One fingerprint, one build: sha256 of the definition hash and the input set, in a fixed order. */
export function fingerprint(
  defHash: string,
  inputSet: ReadonlyArray<{ readonly source: SourceName; readonly version: string }>,
): string {
  // JSON-quoted, so no source or version text (a bus message may carry any) can fake a separator.
  const lines = inputSet
    .map((i) => JSON.stringify([i.source, i.version]))
    .sort()
    .join('\n');
  return sha256(`${defHash}\n${lines}`);
}
