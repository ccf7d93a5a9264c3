import type { Build } from '../core/build.js';
import { isCounted, isFinished } from '../core/build.js';
import { definitionHash } from '../core/fingerprint.js';
import type { JobName, Pipeline, SourceName } from '../core/pipeline.js';
import type { BuildRef, Decision, SchedulerSnapshot, SourceHead } from '../core/scheduler/index.js';
import type { AppliedDecisions, SchedulerState } from '../store/ports.js';

/**
 * The scheduler's view of the store, kept in memory so a decision costs no query. Loaded once
 * at start and updated as decisions are written. One scheduler owns it and applies decisions one
 * event at a time; a batch of events shares a transaction, so until it commits the snapshot may
 * be ahead of the database, and if it fails the scheduler `reset`s it from the database.
 */
export class MemorySnapshot implements SchedulerSnapshot {
  private readonly headsBySource = new Map<SourceName, SourceHead[]>();
  /** Every counted build per fingerprint, oldest first (forced rebuilds make more than one). */
  private readonly byFingerprint = new Map<string, BuildRef[]>();
  private readonly active = new Map<JobName, BuildRef[]>();
  private readonly lastHash = new Map<JobName, string>();
  private hashes = new Map<JobName, string>();

  constructor(
    public pipeline: Pipeline,
    state: SchedulerState,
  ) {
    this.reset(state);
    this.setPipeline(pipeline);
  }

  /** Forgets everything and loads `state`: after a failed commit, the database is the truth. */
  reset(state: SchedulerState): void {
    this.headsBySource.clear();
    this.byFingerprint.clear();
    this.active.clear();
    this.lastHash.clear();
    for (const h of state.heads) this.setHead(h);
    for (const b of state.builtFingerprints) this.setCounted(b);
    for (const b of state.activeBuilds) this.addActive(b);
    for (const [job, hash] of state.lastDefinitionHash) this.lastHash.set(job, hash);
  }

  setPipeline(pipeline: Pipeline): void {
    this.pipeline = pipeline;
    this.hashes = new Map([...pipeline.jobs.values()].map((j) => [j.name, definitionHash(j)]));
  }

  definitionHash(job: JobName): string {
    const h = this.hashes.get(job);
    if (h === undefined) throw new Error(`no job "${job}" in the pipeline`);
    return h;
  }

  heads(source: SourceName): readonly SourceHead[] {
    return this.headsBySource.get(source) ?? [];
  }

  buildWithFingerprint(fingerprint: string): BuildRef | undefined {
    return this.byFingerprint.get(fingerprint)?.at(-1);
  }

  activeBuilds(job: JobName): readonly BuildRef[] {
    return this.active.get(job) ?? [];
  }

  lastDefinitionHash(job: JobName): string | undefined {
    return this.lastHash.get(job);
  }

  /**
   * One event's committed changes. `decisions` are the ones that were applied: a queued build's
   * definition hash is the one it was decided with, even if `setPipeline` ran in between.
   */
  applied(a: AppliedDecisions, decisions: readonly Decision[] = []): void {
    const decidedHash = new Map<JobName, string>();
    /** Superseded build → its job, so removing it needn't search every job's list. */
    const supersededJob = new Map<number, JobName>();
    for (const d of decisions) {
      if (d.kind !== 'queue-build') continue;
      decidedHash.set(d.job, d.definitionHash);
      for (const id of d.supersedes) supersededJob.set(id, d.job);
    }
    for (const h of a.heads) this.setHead(h);
    for (const b of a.queued) {
      this.setCounted(b);
      this.addActive(b);
      this.lastHash.set(b.job, decidedHash.get(b.job) ?? this.hashes.get(b.job) ?? '');
    }
    for (const id of a.superseded) this.removeBuild(id, supersededJob.get(id));
  }

  /** A build changed state (claimed, finished, cancelled): keep the indexes in step. */
  buildChanged(build: Build): void {
    const ref: BuildRef = {
      id: build.id,
      job: build.job,
      state: build.state,
      fingerprint: build.fingerprint,
      forced: build.forced,
      group: build.concurrencyGroup,
    };
    const list = this.active.get(build.job) ?? [];
    const i = list.findIndex((b) => b.id === build.id);
    if (isFinished(build.state)) {
      if (i >= 0) list.splice(i, 1);
    } else if (i >= 0) list[i] = ref;
    else this.addActive(ref);
    if (isCounted(build.state)) this.setCounted(ref);
    else this.uncount(build.fingerprint, build.id);
  }

  /**
   * Retention deleted these finished builds: their fingerprints no longer count, as after a
   * restart (which loads only what the database still has). Safe for ids it never knew.
   */
  forget(builds: ReadonlyArray<{ readonly id: number; readonly fingerprint: string }>): void {
    for (const b of builds) this.uncount(b.fingerprint, b.id);
  }

  /** A queued build left the queue without running (superseded): its fingerprint is free again. */
  private removeBuild(id: number, job?: JobName): void {
    const hinted = job === undefined ? undefined : this.active.get(job);
    if (hinted && this.removeActive(hinted, id)) return;
    for (const list of this.active.values()) if (this.removeActive(list, id)) return;
  }

  private removeActive(list: BuildRef[], id: number): boolean {
    const i = list.findIndex((b) => b.id === id);
    const found = list[i];
    if (!found) return false;
    list.splice(i, 1);
    this.uncount(found.fingerprint, id);
    return true;
  }

  /** Adds or updates a counted build, keeping the list in id order. */
  private setCounted(b: BuildRef): void {
    const list = this.byFingerprint.get(b.fingerprint) ?? [];
    const i = list.findIndex((x) => x.id >= b.id);
    if (i < 0) list.push(b);
    else if (list[i]?.id === b.id) list[i] = b;
    else list.splice(i, 0, b);
    this.byFingerprint.set(b.fingerprint, list);
  }

  /** The build no longer counts (superseded, cancelled, skipped): other builds of it still do. */
  private uncount(fingerprint: string, id: number): void {
    const list = this.byFingerprint.get(fingerprint);
    if (!list) return;
    const rest = list.filter((b) => b.id !== id);
    if (rest.length > 0) this.byFingerprint.set(fingerprint, rest);
    else this.byFingerprint.delete(fingerprint);
  }

  private setHead(h: SourceHead): void {
    const list = this.headsBySource.get(h.source) ?? [];
    const i = list.findIndex((x) => x.ref === h.ref);
    if (i >= 0) list[i] = h;
    else list.push(h);
    this.headsBySource.set(h.source, list);
  }

  private addActive(b: BuildRef): void {
    const list = this.active.get(b.job) ?? [];
    list.push(b);
    this.active.set(b.job, list);
  }
}
