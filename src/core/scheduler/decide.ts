import type { BuildCause, BuildInput, PinnedInput } from '../build.js';
import type { SchedulerEvent, SourceEvent, TriggerEvent } from '../event.js';
import { assertNever } from '../event.js';
import { concurrencyGroup } from '../concurrency-group.js';
import { fingerprint } from '../fingerprint.js';
import { matchesAny } from '../glob-match.js';
import type { JobDef, JobName, SourceName } from '../pipeline.js';
import { requestNumber } from '../change-request.js';
import { closeRequest, filterBranch, requestNotFollowed } from './decide-request.js';
import type { Decision, SchedulerSnapshot, SourceHead } from './types.js';

/**
 * The scheduler: given the store's state and one event, the decisions to apply. Pure and
 * deterministic — no clock but `now`, no I/O — so the same event sequence always yields the
 * same decisions (DESIGN.md, "Scheduler rules").
 */
export function decide(
  snapshot: SchedulerSnapshot,
  event: SchedulerEvent,
  now: number,
): Decision[] {
  switch (event.kind) {
    case 'source':
      return decideSource(snapshot, event, now);
    case 'trigger':
      return decideTrigger(snapshot, event);
    case 'reconcile':
      return decideReconcile(snapshot);
    case 'settle': {
      const job = snapshot.pipeline.jobs.get(event.job);
      if (!job) return [unknownJob(event.job)];
      // The quiet period that deferred the job: its own, else the longest of its inputs'.
      const fromSources = job.inputs.map(
        (s) => snapshot.pipeline.sources.get(s)?.quietPeriodMs ?? 0,
      );
      const quiet = job.quietPeriodMs ?? Math.max(0, ...fromSources);
      return new Planner(snapshot).schedule(job, { kind: 'settled', quietPeriodMs: quiet });
    }
    default:
      return assertNever(event, 'scheduler event');
  }
}

function decideSource(snapshot: SchedulerSnapshot, event: SourceEvent, now: number): Decision[] {
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
  if (current && ancestry?.relation === 'unrelated')
    notes.push(`force push: not a descendant of ${short(event.source, current.version)}`);
  if (current && ancestry?.relation === 'unknown')
    notes.push(`ancestry unknown: ${ancestry.reason}`);
  return notes.length === 0 ? '' : `; ${notes.join('; ')}`;
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

function decideTrigger(snapshot: SchedulerSnapshot, event: TriggerEvent): Decision[] {
  const job = snapshot.pipeline.jobs.get(event.job);
  if (!job) return [unknownJob(event.job)];
  const cause: BuildCause = {
    kind: 'manual',
    forced: event.force,
    by: event.by,
    ...(event.pins.length > 0 ? { pins: event.pins } : {}),
    ...(event.rebuildOf !== null ? { rebuildOf: event.rebuildOf } : {}),
  };
  const foreign = event.pins.filter((p) => !job.inputs.includes(p.source));
  if (foreign.length > 0) {
    // The API refuses these; a pipeline reloaded between the request and the decision can't.
    return [
      note({
        job: job.name,
        source: foreign[0]?.source ?? null,
        version: foreign[0]?.version ?? null,
        rule: 'unknown-source',
        detail: `${job.name} has no input ${foreign.map((p) => p.source).join(', ')} to pin`,
      }),
    ];
  }
  return new Planner(snapshot, null, event.pins, event.id).schedule(job, cause, {
    force: event.force,
  });
}

function decideReconcile(snapshot: SchedulerSnapshot): Decision[] {
  const planner = new Planner(snapshot);
  const decisions: Decision[] = [];
  for (const name of snapshot.pipeline.order) {
    const job = snapshot.pipeline.jobs.get(name);
    if (!job || snapshot.lastDefinitionHash(name) === snapshot.definitionHash(name)) continue;
    decisions.push(...planner.schedule(job, { kind: 'definition' }, { quietWhenWaiting: true }));
  }
  return decisions;
}

/** Builds input sets against the snapshot plus the head this event brings. */
class Planner {
  /** Fingerprints queued by this very event, so one event never queues the same thing twice. */
  private readonly queuedNow = new Set<string>();

  constructor(
    private readonly snapshot: SchedulerSnapshot,
    private readonly newHead: SourceHead | null = null,
    /** Inputs a trigger fixed to a version, and that trigger's event. */
    private readonly pins: readonly PinnedInput[] = [],
    private readonly pinEvent: number | null = null,
  ) {}

  schedule(
    job: JobDef,
    cause: BuildCause,
    opts: { force?: boolean; quietWhenWaiting?: boolean } = {},
  ): Decision[] {
    const force = opts.force ?? false;
    const base = { job: job.name, source: causeSource(cause), version: causeVersion(cause) };
    const inputs = this.inputSet(job);
    if ('missing' in inputs) {
      if (opts.quietWhenWaiting) return [];
      return [
        note({
          ...base,
          rule: 'waiting-input',
          detail: `${job.name} waits for ${inputs.missing.join(', ')} to have a version`,
        }),
      ];
    }
    const defHash = this.snapshot.definitionHash(job.name);
    const fp = fingerprint(defHash, inputs.set);
    const existing = this.snapshot.buildWithFingerprint(fp);
    // Supersede and cancel stay inside the group: a push to another branch replaces nothing.
    const group = concurrencyGroup(this.snapshot.pipeline, job, inputs.set);
    const active = this.snapshot.activeBuilds(job.name).filter((b) => b.group === group);
    if ((existing || this.queuedNow.has(fp)) && !force) {
      // New versions (directly or after a quiet period) that build nothing are recorded as
      // `skipped: identical to build #N` (DESIGN rule 7); triggers and reloads only note it.
      const visible = cause.kind === 'version' || cause.kind === 'settled';
      if (!visible || !existing) {
        const detail = existing
          ? `${job.name} already built these inputs as build #${existing.id} (${existing.state})`
          : `${job.name} is already queued with these inputs`;
        return cause.kind === 'definition'
          ? []
          : [note({ ...base, rule: 'same-fingerprint', detail })];
      }
      return [
        {
          kind: 'record-skip',
          job: base.job,
          source: base.source,
          version: base.version,
          fingerprint: fp,
          definitionHash: defHash,
          inputs: inputs.set,
          cause,
          identicalTo: existing.id,
          reason: `identical to build #${existing.id}`,
          group,
          // The newest input set is built already: queued builds of older sets are moot.
          supersedes: job.supersede
            ? active.filter((b) => b.state === 'queued' && b.id !== existing.id).map((b) => b.id)
            : [],
          rule: 'same-fingerprint',
          detail: `the input set of ${job.name} equals build #${existing.id}'s (${existing.state})`,
        },
      ];
    }
    this.queuedNow.add(fp);
    const supersedes = job.supersede
      ? active.filter((b) => b.state === 'queued').map((b) => b.id)
      : [];
    const cancels = job.cancelRunning
      ? active.filter((b) => b.state === 'running').map((b) => b.id)
      : [];
    const rule = force
      ? 'forced'
      : cause.kind === 'definition'
        ? 'definition-changed'
        : cause.kind === 'settled'
          ? 'settled'
          : 'built';
    return [
      {
        kind: 'queue-build',
        job: base.job,
        source: base.source,
        version: base.version,
        fingerprint: fp,
        definitionHash: defHash,
        inputs: inputs.set,
        cause,
        forced: force,
        supersedes,
        cancels,
        concurrency: { group, limit: job.concurrency },
        rule,
        detail: describeQueue(job.name, cause, force, supersedes, cancels),
      },
    ];
  }

  /** A change that touched only paths the job ignores: visible as `skipped: paths`, never built. */
  skipForPaths(job: JobDef, cause: BuildCause): Decision[] {
    const base = { job: job.name, source: causeSource(cause), version: causeVersion(cause) };
    const inputs = this.inputSet(job);
    const defHash = this.snapshot.definitionHash(job.name);
    const set = 'missing' in inputs ? [] : inputs.set;
    return [
      {
        kind: 'record-skip',
        ...base,
        fingerprint: fingerprint(defHash, set),
        definitionHash: defHash,
        inputs: set,
        cause,
        identicalTo: null,
        reason: 'paths',
        group: concurrencyGroup(this.snapshot.pipeline, job, set),
        supersedes: [],
        rule: 'filtered-paths',
        detail: `no changed file matches ${job.name}'s paths filter`,
      },
    ];
  }

  private inputSet(job: JobDef): { set: BuildInput[] } | { missing: SourceName[] } {
    const set: BuildInput[] = [];
    const missing: SourceName[] = [];
    for (const source of job.inputs) {
      const pin = this.pins.find((p) => p.source === source);
      if (pin) {
        set.push({
          source,
          version: pin.version,
          origin: 'manual',
          eventId: this.pinEvent,
          ref: pin.ref,
        });
        continue;
      }
      const head = this.newestHead(job, source);
      if (!head) missing.push(source);
      else
        set.push({
          source,
          version: head.version,
          origin: head.origin,
          eventId: head.eventId,
          ref: head.ref,
        });
    }
    return missing.length > 0 ? { missing } : { set };
  }

  private newestHead(job: JobDef, source: SourceName): SourceHead | undefined {
    let heads = this.snapshot.heads(source);
    const fresh = this.newHead?.source === source ? this.newHead : null;
    if (fresh) heads = [...heads.filter((h) => h.ref !== fresh.ref), fresh];
    const isGit = this.snapshot.pipeline.sources.get(source)?.kind === 'git';
    let best: SourceHead | undefined;
    for (const h of heads) {
      // A change request's head is built for its own events only, never as "the newest".
      // (Its target branch passed the job's `branches` already.)
      const request = requestNumber(h.ref) !== null;
      if (request && h !== fresh) continue;
      if (!request && isGit && job.branches && h.ref !== null && !matchesAny(h.ref, job.branches))
        continue;
      if (!best || h.seq > best.seq) best = h;
    }
    return best;
  }
}

function pathsConcernJob(job: JobDef, changed: readonly string[] | null): boolean {
  if (changed === null || (job.paths === null && job.pathsIgnore === null)) return true;
  return changed.some(
    (p) =>
      (job.paths === null || matchesAny(p, job.paths)) &&
      (job.pathsIgnore === null || !matchesAny(p, job.pathsIgnore)),
  );
}

function describeQueue(
  job: JobName,
  cause: BuildCause,
  force: boolean,
  supersedes: readonly number[],
  cancels: readonly number[],
): string {
  const why =
    cause.kind === 'version'
      ? `new version ${short(cause.source, cause.version)}`
      : cause.kind === 'definition'
        ? 'its definition changed'
        : cause.kind === 'settled'
          ? `the quiet period (${cause.quietPeriodMs} ms) settled`
          : cause.kind === 'manual'
            ? describeManual(cause)
            : `retry of build #${cause.previousBuild}`;
  const extra = [
    force ? 'forced: rebuilds identical inputs' : '',
    supersedes.length ? `supersedes ${supersedes.map((id) => `#${id}`).join(', ')}` : '',
    cancels.length ? `cancels running ${cancels.map((id) => `#${id}`).join(', ')}` : '',
  ].filter(Boolean);
  return `${job} queued: ${why}${extra.length ? `; ${extra.join('; ')}` : ''}`;
}

function describeManual(cause: Extract<BuildCause, { kind: 'manual' }>): string {
  const by = cause.by ? ` by ${cause.by}` : '';
  if (cause.rebuildOf !== undefined) return `rebuild of build #${cause.rebuildOf}${by}`;
  const pins = cause.pins ?? [];
  const pinned = pins.length
    ? ` with ${pins.map((p) => short(p.source, p.version)).join(', ')} pinned`
    : '';
  return `manual trigger${by}${pinned}`;
}

function causeSource(cause: BuildCause): SourceName | null {
  return cause.kind === 'version' ? cause.source : null;
}
function causeVersion(cause: BuildCause): string | null {
  return cause.kind === 'version' ? cause.version : null;
}

function note(d: Omit<Extract<Decision, { kind: 'note' }>, 'kind'>): Decision {
  return { kind: 'note', ...d };
}

function unknownJob(job: JobName): Decision {
  return note({
    job,
    source: null,
    version: null,
    rule: 'unknown-job',
    detail: `no job "${job}" in the pipeline`,
  });
}

/** `app@3f2a1c0` for commit-like versions, the whole version otherwise. */
function short(source: SourceName, version: string): string {
  return `${source}@${/^[0-9a-f]{40,64}$/.test(version) ? version.slice(0, 10) : version}`;
}
