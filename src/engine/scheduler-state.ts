import type { Build } from '../core/build.js';
import { isFinished } from '../core/build.js';
import { definitionHash } from '../core/fingerprint.js';
import type { JobName, Pipeline, SourceName } from '../core/pipeline.js';
import type { BuildRef, SchedulerSnapshot, SourceHead } from '../core/scheduler/index.js';
import type { AppliedDecisions, SchedulerState } from '../store/ports.js';

const COUNTED = new Set(['queued', 'running', 'passed', 'failed', 'error']);

/**
 * The scheduler's view of the store, kept in memory so a decision costs no query. Loaded once
 * at start and updated only from committed changes, so it never runs ahead of the database.
 * One scheduler owns it: decisions are applied one event at a time.
 */
export class MemorySnapshot implements SchedulerSnapshot {
  private readonly headsBySource = new Map<SourceName, SourceHead[]>();
  private readonly byFingerprint = new Map<string, BuildRef>();
  private readonly active = new Map<JobName, BuildRef[]>();
  private readonly lastHash: Map<JobName, string>;
  private hashes = new Map<JobName, string>();

  constructor(
    public pipeline: Pipeline,
    state: SchedulerState,
  ) {
    for (const h of state.heads) this.setHead(h);
    for (const b of state.builtFingerprints) this.byFingerprint.set(b.fingerprint, b);
    for (const b of state.activeBuilds) this.addActive(b);
    this.lastHash = new Map(state.lastDefinitionHash);
    this.setPipeline(pipeline);
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
    return this.byFingerprint.get(fingerprint);
  }

  activeBuilds(job: JobName): readonly BuildRef[] {
    return this.active.get(job) ?? [];
  }

  lastDefinitionHash(job: JobName): string | undefined {
    return this.lastHash.get(job);
  }

  applied(a: AppliedDecisions): void {
    for (const h of a.heads) this.setHead(h);
    for (const b of a.queued) {
      this.byFingerprint.set(b.fingerprint, b);
      this.addActive(b);
      this.lastHash.set(b.job, this.hashes.get(b.job) ?? '');
    }
    for (const id of a.superseded) this.removeBuild(id);
  }

  /** A build changed state (claimed, finished, cancelled): keep the indexes in step. */
  buildChanged(build: Build): void {
    const ref: BuildRef = { id: build.id, job: build.job, state: build.state, fingerprint: build.fingerprint, forced: build.forced };
    const list = this.active.get(build.job) ?? [];
    const i = list.findIndex((b) => b.id === build.id);
    if (isFinished(build.state)) {
      if (i >= 0) list.splice(i, 1);
    } else if (i >= 0) list[i] = ref;
    else this.addActive(ref);
    const current = this.byFingerprint.get(build.fingerprint);
    if (COUNTED.has(build.state)) {
      if (!current || current.id <= build.id) this.byFingerprint.set(build.fingerprint, ref);
    } else if (current?.id === build.id) {
      this.byFingerprint.delete(build.fingerprint);
    }
  }

  /** A queued build left the queue without running (superseded): its fingerprint is free again. */
  private removeBuild(id: number): void {
    for (const list of this.active.values()) {
      const i = list.findIndex((b) => b.id === id);
      const found = list[i];
      if (found) {
        list.splice(i, 1);
        if (this.byFingerprint.get(found.fingerprint)?.id === id) this.byFingerprint.delete(found.fingerprint);
        return;
      }
    }
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
