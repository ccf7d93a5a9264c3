import type { BuildCause, BuildInput, PinnedInput } from '../build.js';
import { concurrencyGroup } from '../concurrency-group.js';
import { fingerprint } from '../fingerprint.js';
import { matchesAny } from '../glob-match.js';
import type { JobDef, JobName, SourceName } from '../pipeline.js';
import { requestNumber } from '../change-request.js';
import { note, short } from './decision-text.js';
import type { Decision, SchedulerSnapshot, SourceHead } from './types.js';

// Split from decide.ts: turning one job plus the heads into a build (or a reason not to) is the
// part every event kind shares.

/** Builds input sets against the snapshot plus the head this event brings. */
export class Planner {
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
        concurrency: { group, limit: job.concurrency, supersede: job.supersede },
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
