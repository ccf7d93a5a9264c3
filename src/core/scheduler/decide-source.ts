import type { BuildCause } from '../build.js';
import type { Ancestry, SourceEvent } from '../event.js';
import { matchesAny } from '../glob-match.js';
import type { JobDef } from '../pipeline.js';
import { closeRequest, filterBranch, requestNotFollowed } from './decide-request.js';
import { note, short } from './decision-text.js';
import { Planner } from './planner.js';
import type { Decision, SchedulerSnapshot, SourceHead } from './types.js';

// Split from decide.ts: a new version is the event with the most rules (branches, ancestry,
// stale outputs, paths, quiet periods), so it reads on its own.

export function decideSource(
  snapshot: SchedulerSnapshot,
  event: SourceEvent,
  now: number,
): Decision[] {
  const { pipeline } = snapshot;
  const def = pipeline.sources.get(event.source);
  const at = { source: event.source, version: event.version };
  if (!def) {
    return [
      note({
        ...at,
        job: null,
        rule: 'unknown-source',
        detail: `no source "${event.source}" in the pipeline`,
      }),
    ];
  }
  const notFollowed = def.kind === 'git' ? requestNotFollowed(def, event) : null;
  if (notFollowed) return [notFollowed];
  if (event.request?.closed === true) return closeRequest(snapshot, event);
  if (
    def.kind === 'git' &&
    event.ref !== null &&
    event.request === undefined &&
    !matchesAny(event.ref, def.branches)
  ) {
    return [
      note({
        ...at,
        job: null,
        rule: 'filtered-branch',
        detail: `branch "${event.ref}" is not one that ${event.source} follows (${def.branches.join(', ')})`,
      }),
    ];
  }
  const current = snapshot.heads(event.source).find((h) => h.ref === event.ref);
  if (current?.version === event.version && event.request?.reopened !== true) {
    return duplicate(snapshot, event, current);
  }
  const ancestry =
    def.kind === 'git' && current && event.ancestry?.head === current.version
      ? event.ancestry
      : null;
  if (current && ancestry?.relation === 'ancestor') {
    // A late delivery (or a poll that raced a push): the head already contains this commit.
    // Moving the head back would build an older state after a newer one.
    return [
      {
        kind: 'record-duplicate',
        ...at,
        job: null,
        rule: 'ancestor',
        detail: `${short(event.source, event.version)} is an ancestor of the head ${short(event.source, current.version)}${event.ref ? ` of ${event.ref}` : ''} (${event.origin} event arrived late): recorded, the head stays`,
      },
    ];
  }
  if (
    event.origin === 'output' &&
    event.producedBy !== null &&
    current?.producedBy != null &&
    event.producedBy < current.producedBy
  ) {
    // Two builds of a job ran at once and the older finished last: its output must not replace
    // the newer build's, or downstream would build stale inputs.
    return [
      {
        kind: 'record-duplicate',
        ...at,
        job: null,
        rule: 'stale-output',
        detail: `output ${event.source} of build #${event.producedBy} is older than build #${current.producedBy}'s: the head stays`,
      },
    ];
  }

  const head: SourceHead = {
    source: event.source,
    version: event.version,
    ref: event.ref,
    eventId: event.id,
    origin: event.origin,
    seq: Number.MAX_SAFE_INTEGER,
    producedBy: event.producedBy,
  };
  const decisions: Decision[] = [
    {
      kind: 'advance-head',
      source: at.source,
      version: at.version,
      ref: event.ref,
      origin: event.origin,
      producedBy: event.producedBy,
      job: null,
      rule: 'new-version',
      detail: `${short(event.source, event.version)} is the new head${event.ref ? ` of ${event.ref}` : ''} (${event.origin}${newVersionNote(event, current, ancestry)})`,
    },
  ];
  const planner = new Planner(snapshot, head);
  const cause: BuildCause = {
    kind: 'version',
    source: event.source,
    version: event.version,
    eventId: event.id,
  };
  for (const jobName of pipeline.consumers.get(event.source) ?? []) {
    const job = pipeline.jobs.get(jobName);
    if (!job) continue;
    // Literals, not `{ ...at, job }`: in V8 a spread followed by more properties costs
    // microseconds, and this runs once per consuming job (bench/scheduler, fan-out).
    const base = { source: at.source, version: at.version, job: jobName };
    const branch = filterBranch(event);
    if (
      def.kind === 'git' &&
      job.branches &&
      branch !== null &&
      !matchesAny(branch, job.branches)
    ) {
      decisions.push(
        note({
          ...base,
          rule: 'filtered-branch',
          detail: `${event.request ? `target branch of ${event.ref}` : 'branch'} "${branch}" does not match ${jobName}'s branches (${job.branches.join(', ')})`,
        }),
      );
      continue;
    }
    if (!pathsConcernJob(job, event.changedPaths)) {
      decisions.push(...planner.skipForPaths(job, cause));
      continue;
    }
    const quiet = job.quietPeriodMs ?? def.quietPeriodMs;
    if (quiet !== null && quiet > 0) {
      decisions.push({
        kind: 'defer',
        ...base,
        until: now + quiet,
        rule: 'deferred',
        detail: `waiting ${quiet} ms for the burst on ${event.source} to settle`,
      });
      continue;
    }
    decisions.push(...planner.schedule(job, cause));
  }
  return decisions;
}

/** What the new-version line adds: a force push, an unanswered ancestry question, a missed event. */
function newVersionNote(
  event: SourceEvent,
  current: SourceHead | undefined,
  ancestry: SourceEvent['ancestry'],
): string {
  const notes: string[] = [];
  if (current && event.origin === 'poll') notes.push('missed event: no event announced it');
  const fact = current && ancestry ? ancestryNote(event.source, ancestry) : null;
  if (fact !== null) notes.push(fact);
  return notes.length === 0 ? '' : `; ${notes.join('; ')}`;
}

/**
 * What a new version's decision says about its ancestry (`null`: nothing worth saying). Also
 * used when the answer comes after deciding (the scheduler decides a commit shown not to be an
 * ancestor at once and records the rest once it is fetched).
 */
export function ancestryNote(source: string, ancestry: Ancestry): string | null {
  if (ancestry.relation === 'unrelated')
    return `force push: not a descendant of ${short(source, ancestry.head)}`;
  if (ancestry.relation === 'unknown') return `ancestry unknown: ${ancestry.reason}`;
  return null;
}

function duplicate(
  snapshot: SchedulerSnapshot,
  event: SourceEvent,
  current: SourceHead,
): Decision[] {
  const at = { source: event.source, version: event.version };
  if (event.origin !== 'output') {
    return [
      {
        kind: 'record-duplicate',
        source: at.source,
        version: at.version,
        job: null,
        rule: 'duplicate',
        detail: `${short(event.source, event.version)} is already the head (${event.origin} event repeats a known version)`,
      },
    ];
  }
  // A rebuilt job made byte-identical output: nothing downstream needs to run.
  const from = event.producedBy === null ? 'a build' : `build #${event.producedBy}`;
  const same = current.producedBy === null ? 'the current head' : `build #${current.producedBy}'s`;
  const detail = `output ${event.source} of ${from} is identical to ${same}: nothing downstream runs`;
  const consumers = snapshot.pipeline.consumers.get(event.source) ?? [];
  return [
    { kind: 'record-duplicate', ...at, job: null, rule: 'early-cutoff', detail },
    ...consumers.map((job) => note({ ...at, job, rule: 'early-cutoff', detail })),
  ];
}

function pathsConcernJob(job: JobDef, changed: readonly string[] | null): boolean {
  if (changed === null || (job.paths === null && job.pathsIgnore === null)) return true;
  return changed.some(
    (p) =>
      (job.paths === null || matchesAny(p, job.paths)) &&
      (job.pathsIgnore === null || !matchesAny(p, job.pathsIgnore)),
  );
}
