import {
  CompiledQuery,
  sql,
  type Compilable,
  type Insertable,
  type Kysely,
  type QueryResult,
  type Transaction,
} from 'kysely';
import type { Build, BuildState } from '../../core/build.js';
import { storedReason } from '../../core/build-ending.js';
import { failureClassOf } from '../../core/failure-class.js';
import type { Ancestry, SchedulerEvent } from '../../core/event.js';
import type { JobName, SourceName } from '../../core/pipeline.js';
import type { RetentionFacts } from '../../core/retention.js';
import type { BuildRef, Decision, Rule, SourceHead } from '../../core/scheduler/index.js';
import type { ArtifactFile, CollectedOutput } from '../../executor/port.js';
import type {
  AppendedEvent,
  ArtifactPruneResult,
  AppliedDecisions,
  DecisionWriter,
  BuildDetail,
  BuildFilter,
  DecisionRecord,
  EventRecord,
  DeletedBuilds,
  HistoryBatch,
  HistoryKind,
  HistoryRow,
  FinishedRun,
  JobStatus,
  NewEvent,
  OutboxRecord,
  PollRecord,
  SchedulerState,
  SourceStatus,
  Store,
} from '../ports.js';
import type { Database } from '../schema.js';
import { pruneArtifacts } from './artifact-retention.js';
import { sloHistory } from './slo-history.js';
import type { SloObservation } from '../../core/slo/slo-set.js';
import { SqlAccessStore } from './access-store.js';
import { deleteBuilds, pruneHistoryBatch, retentionFacts } from './history-retention.js';
import { SqlDeliveryStore } from './delivery-store.js';
import {
  toBuild,
  toBuildRef,
  toHead,
  toSchedulerEvent,
  type BuildRow,
  type InputRow,
} from './rows.js';

type Db = Kysely<Database> | Transaction<Database>;

/** States whose fingerprint counts as "built" (DESIGN rule 3). */
const COUNTED: BuildState[] = ['queued', 'running', 'passed', 'failed', 'error'];

/**
 * The store over Kysely: the same queries serve every SQL backend; a backend folder only opens
 * the connection and states its capabilities.
 */
export class SqlStore implements Store {
  /** Hot statements compiled once per store (see `Shapes`). */
  private readonly shapes = new Shapes();
  /** Report delivery state (cursors, retries, dead letters) over the same database. */
  readonly deliveries: SqlDeliveryStore;
  /** API tokens and the audit trail over the same database. */
  readonly access: SqlAccessStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void>,
  ) {
    this.deliveries = new SqlDeliveryStore(db);
    this.access = new SqlAccessStore(db);
  }

  // ---- inbox -------------------------------------------------------------------------------

  async appendEvent(event: NewEvent): Promise<AppendedEvent> {
    const [appended] = await this.appendEvents([event]);
    if (!appended) throw new Error('appendEvents returned nothing');
    return appended;
  }

  appendEvents(events: readonly NewEvent[]): Promise<AppendedEvent[]> {
    return this.db.transaction().execute(async (trx) => {
      const out: AppendedEvent[] = [];
      for (const e of events) out.push(await insertEvent(trx, e, this.shapes));
      return out;
    });
  }

  // ---- scheduler ---------------------------------------------------------------------------

  /** Heads joined with their versions, in the shape `toHead` reads. */
  private headRows() {
    return this.db
      .selectFrom('heads')
      .innerJoin('versions', 'versions.id', 'heads.version_id')
      .select([
        'versions.id',
        'versions.source',
        'versions.version',
        'versions.ref',
        'versions.event_id',
        'versions.origin',
        'versions.produced_by',
      ]);
  }

  async loadSchedulerState(): Promise<SchedulerState> {
    const heads = await this.headRows().execute();
    const counted = await this.db
      .selectFrom('builds')
      .select(['id', 'job', 'state', 'fingerprint', 'forced', 'concurrency_group'])
      .where('state', 'in', COUNTED)
      .orderBy('id')
      .execute();
    const last = await this.db
      .selectFrom('builds')
      .select(['job', 'definition_hash'])
      .where('id', 'in', (q) =>
        q
          .selectFrom('builds')
          .select((eb) => eb.fn.max('id').as('id'))
          .where('state', '!=', 'skipped')
          .groupBy('job'),
      )
      .execute();
    const settles = await this.db.selectFrom('pending_settles').selectAll().execute();
    const refs = counted.map(toBuildRef);
    return {
      heads: heads.map(toHead),
      activeBuilds: refs.filter((b) => b.state === 'queued' || b.state === 'running'),
      builtFingerprints: refs,
      lastDefinitionHash: new Map(last.map((r) => [r.job, r.definition_hash])),
      pendingSettles: settles.map((s) => ({ job: s.job, dueAt: Number(s.due_at) })),
    };
  }

  async pendingEvents(limit: number): Promise<SchedulerEvent[]> {
    const { rows } = await this.shapes.run(this.db, hot.pendingEvents, { limit });
    return rows.map(toSchedulerEvent);
  }

  applyDecisions(
    event: SchedulerEvent,
    decisions: readonly Decision[],
    now: number,
  ): Promise<AppliedDecisions> {
    return this.batchDecisions((w) => w.applyDecisions(event, decisions, now));
  }

  /**
   * One transaction for several events' decisions. Most of an event's cost is its commit (the
   * pages it touches are written to the WAL): consecutive events touch the same pages, so a
   * batch writes them once (bench/RESULTS.md, "Ingest").
   */
  batchDecisions<T>(work: (writer: DecisionWriter) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const received = new Map<SourceName, { n: number; at: number }>();
      const result = await work({
        applyDecisions: (event, decisions, now) =>
          this.applyOne(trx, event, decisions, now, received),
      });
      await this.countReceived(trx, received);
      return result;
    });
  }

  /** One event's decisions inside `trx`; delivery counts are collected in `received`. */
  private async applyOne(
    trx: Transaction<Database>,
    event: SchedulerEvent,
    decisions: readonly Decision[],
    now: number,
    received: Map<SourceName, { n: number; at: number }>,
  ): Promise<AppliedDecisions> {
    const { shapes } = this;
    const queued: BuildRef[] = [];
    const skipped: BuildRef[] = [];
    const superseded: number[] = [];
    const cancelRequested: number[] = [];
    const heads: SourceHead[] = [];
    let outcome: string = decisions.length === 0 ? 'nothing' : (decisions[0]?.rule ?? 'nothing');
    for (const d of decisions) {
      let buildId: number | null = null;
      switch (d.kind) {
        case 'advance-head': {
          const { rows } = await shapes.run(trx, hot.insertVersion, {
            source: d.source,
            version: d.version,
            ref: d.ref ?? '',
            eventId: event.id,
            origin: d.origin,
            producedBy: d.producedBy,
            createdAt: now,
          });
          const v = rows[0];
          if (!v) throw new Error('inserting the version returned no id');
          await shapes.run(trx, hot.upsertHead, {
            source: d.source,
            ref: d.ref ?? '',
            versionId: v.id,
          });
          heads.push({
            source: d.source,
            version: d.version,
            ref: d.ref,
            eventId: event.id,
            origin: d.origin,
            seq: Number(v.id),
            producedBy: d.producedBy,
          });
          break;
        }
        case 'queue-build': {
          const ref = d.inputs.find((i) => i.ref !== null)?.ref ?? null;
          const values: NewBuild = {
            job: d.job,
            state: 'queued',
            fingerprint: d.fingerprint,
            definition_hash: d.definitionHash,
            cause: JSON.stringify(d.cause),
            forced: d.forced ? 1 : 0,
            ref,
            queued_at: now,
            concurrency_group: d.concurrency.group,
            concurrency_limit: d.concurrency.limit,
          };
          buildId = await insertBuild(trx, shapes, values, d.inputs);
          await upsertJob(trx, shapes, d.job, d.definitionHash, now);
          queued.push({
            id: buildId,
            job: d.job,
            state: 'queued',
            fingerprint: d.fingerprint,
            forced: d.forced,
            group: d.concurrency.group,
          });
          await writeNewBuildOutbox(trx, shapes, buildId, values, d.inputs, 'queued', now);
          superseded.push(...(await supersedeQueued(trx, shapes, d.supersedes, buildId, now)));
          cancelRequested.push(...d.cancels);
          break;
        }
        case 'record-skip': {
          const ref = d.inputs.find((i) => i.ref !== null)?.ref ?? null;
          const values: NewBuild = {
            job: d.job,
            state: 'skipped',
            fingerprint: d.fingerprint,
            definition_hash: d.definitionHash,
            cause: JSON.stringify(d.cause),
            ref,
            queued_at: now,
            finished_at: now,
            reason: d.reason,
            related_build: d.identicalTo,
            concurrency_group: d.group,
          };
          buildId = await insertBuild(trx, shapes, values, d.inputs);
          skipped.push({
            id: buildId,
            job: d.job,
            state: 'skipped',
            fingerprint: d.fingerprint,
            forced: false,
            group: d.group,
          });
          await writeNewBuildOutbox(trx, shapes, buildId, values, d.inputs, 'skipped', now);
          superseded.push(...(await supersedeQueued(trx, shapes, d.supersedes, buildId, now)));
          break;
        }
        case 'defer':
          await trx
            .insertInto('pending_settles')
            .values({ job: d.job, due_at: d.until, event_id: event.id })
            .onConflict((oc) =>
              oc.column('job').doUpdateSet({ due_at: d.until, event_id: event.id }),
            )
            .execute();
          break;
        case 'record-duplicate':
        case 'note':
          break;
      }
      if (d.kind === 'queue-build' || d.kind === 'record-skip') outcome = d.rule;
      await shapes.run(trx, hot.insertDecision, {
        eventId: event.id,
        job: d.job,
        rule: d.rule,
        source: d.source,
        version: d.version,
        buildId,
        detail: d.detail,
        at: now,
      });
    }
    // Events that a person or a forge sent count towards delivery health; polls and outputs don't.
    if (event.kind === 'source' && event.origin !== 'poll' && event.origin !== 'output') {
      const r = received.get(event.source);
      received.set(event.source, { n: (r?.n ?? 0) + 1, at: now });
    }
    if (event.kind === 'source' && event.ancestry !== null) {
      // The fact the scheduler decided with, kept with the event so `why` and the event API can
      // show it (asked of the mirror just before deciding, so not known when the event arrived).
      await trx
        .updateTable('events')
        .set({
          detail: JSON.stringify({
            changedPaths: event.changedPaths,
            producedBy: event.producedBy,
            ancestry: event.ancestry,
          }),
        })
        .where('id', '=', event.id)
        .execute();
    }
    await shapes.run(trx, hot.markProcessed, { processedAt: now, outcome, id: event.id });
    return { queued, skipped, superseded, cancelRequested, heads };
  }

  /** `events_received += n` once per source for the events of one transaction. */
  private async countReceived(
    trx: Transaction<Database>,
    received: ReadonlyMap<SourceName, { n: number; at: number }>,
  ): Promise<void> {
    for (const [name, { n, at }] of received) {
      await this.shapes.run(trx, hot.countReceived, { n, at, name });
    }
  }

  async takeDueSettles(now: number): Promise<JobName[]> {
    // The scheduler asks on every wake and nearly always nothing is due: answer that with one
    // read instead of a transaction (which cost ~0.3 ms of CPU per scheduled event).
    const { rows: any } = await this.shapes.run(this.db, hot.dueSettles, { now });
    if (any.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      const { rows: due } = await this.shapes.run(trx, hot.dueSettles, { now });
      if (due.length === 0) return [];
      const jobs = due.map((d) => d.job);
      await trx.deleteFrom('pending_settles').where('job', 'in', jobs).execute();
      for (const job of jobs) {
        await insertEvent(trx, { kind: 'settle', job, receivedAt: now }, this.shapes);
      }
      return jobs;
    });
  }

  // ---- queue -------------------------------------------------------------------------------

  /**
   * One statement picks and starts the next build: the oldest queued build that is the oldest
   * queued one of its concurrency group (so a group's builds start in queue order) and whose
   * group runs fewer builds than its limit. Other groups' builds are taken past a full one.
   * On PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED`: a build another claimer holds
   * is skipped, and the younger builds of its group are not eligible while it is still queued.
   */
  claimNextBuild(worker: string, now: number): Promise<Build | null> {
    return this.db.transaction().execute(async (trx) => {
      const started = await trx
        .updateTable('builds')
        .set({ state: 'running', started_at: now, worker })
        .where('state', '=', 'queued')
        .where('id', '=', (eb) =>
          eb
            .selectFrom('builds as q')
            .select('q.id')
            .where('q.state', '=', 'queued')
            .where('q.id', '=', (eb2) =>
              eb2
                .selectFrom('builds as o')
                .select((e) => e.fn.min('o.id').as('id'))
                .where('o.state', '=', 'queued')
                .whereRef('o.concurrency_group', '=', 'q.concurrency_group'),
            )
            .where(
              (eb2) =>
                eb2
                  .selectFrom('builds as r')
                  .select((e) => e.fn.countAll<number>().as('n'))
                  .where('r.state', '=', 'running')
                  .whereRef('r.concurrency_group', '=', 'q.concurrency_group'),
              '<',
              (eb2) => eb2.ref('q.concurrency_limit'),
            )
            .orderBy('q.id')
            .limit(1),
        )
        .returning('id')
        .executeTakeFirst();
      if (!started) return null;
      const id = Number(started.id);
      await writeOutbox(trx, id, 'started', now);
      return loadBuild(trx, id);
    });
  }

  finishBuild(id: number, run: FinishedRun, now: number): Promise<Build> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('builds')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const r = run.result;
      const cov = r.coverage;
      let linesDelta: number | null = null;
      let branchesDelta: number | null = null;
      if (cov) {
        let q = trx
          .selectFrom('builds')
          .select(['coverage_lines', 'coverage_branches'])
          .where('job', '=', row.job)
          .where('id', '<', id)
          .where('coverage_lines', 'is not', null);
        q = row.ref === null ? q.where('ref', 'is', null) : q.where('ref', '=', row.ref);
        const prev = await q.orderBy('id', 'desc').limit(1).executeTakeFirst();
        if (prev) {
          linesDelta = delta(cov.lines, prev.coverage_lines);
          branchesDelta = delta(cov.branches, prev.coverage_branches);
        }
      }
      await trx
        .updateTable('builds')
        .set({
          state: r.state,
          finished_at: now,
          failed_step: r.state === 'failed' ? r.step : r.state === 'error' ? r.step : null,
          reason: storedReason(r),
          failure_class: failureClassOf(r),
          exit_code: r.state === 'failed' ? r.exitCode : null,
          coverage_lines: cov?.lines ?? null,
          coverage_branches: cov?.branches ?? null,
          coverage_lines_delta: linesDelta,
          coverage_branches_delta: branchesDelta,
          warnings: JSON.stringify(r.warnings),
          log_bytes: run.logBytes,
        })
        .where('id', '=', id)
        .execute();
      for (const out of r.outputs) {
        await trx
          .insertInto('build_outputs')
          .values({ build_id: id, name: out.name, digest: out.digest })
          .execute();
        for (const f of out.files) {
          await trx
            .insertInto('artifacts')
            .values({
              build_id: id,
              output: out.name,
              path: f.path,
              digest: f.digest,
              size: f.size,
            })
            .execute();
        }
      }
      for (const e of run.outputEvents) await insertEvent(trx, e, this.shapes);
      if (run.retrying !== true) await writeOutbox(trx, id, 'finished', now);
      return loadBuild(trx, id);
    });
  }

  queueRetry(previous: number, now: number): Promise<Build | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('builds')
        .selectAll()
        .where('id', '=', previous)
        .executeTakeFirst();
      if (!row || row.related_build !== null) return null;
      const inputs = await trx
        .selectFrom('build_inputs')
        .selectAll()
        .where('build_id', '=', previous)
        .orderBy('position')
        .execute();
      const newId = await insertBuild(
        trx,
        this.shapes,
        {
          job: row.job,
          state: 'queued',
          fingerprint: row.fingerprint,
          definition_hash: row.definition_hash,
          cause: JSON.stringify({ kind: 'retry', previousBuild: Number(row.id) }),
          forced: row.forced,
          ref: row.ref,
          queued_at: now,
          attempt: row.attempt + 1,
          related_build: row.id,
          concurrency_group: row.concurrency_group,
          concurrency_limit: row.concurrency_limit,
        },
        inputs.map((i) => ({
          source: i.source,
          version: i.version,
          ref: i.ref,
          origin: i.origin as never,
          eventId: i.event_id,
        })),
      );
      await trx
        .updateTable('builds')
        .set({ related_build: newId })
        .where('id', '=', previous)
        .execute();
      await writeOutbox(trx, newId, 'queued', now);
      return loadBuild(trx, newId);
    });
  }

  requeueBuild(id: number, now: number): Promise<Build | null> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('builds')
        .set({ state: 'queued', started_at: null, worker: null })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return null;
      await writeOutbox(trx, id, 'queued', now);
      return loadBuild(trx, id);
    });
  }

  cancelQueuedBuild(id: number, reason: string, now: number): Promise<Build | null> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('builds')
        .set({ state: 'cancelled', finished_at: now, reason, failure_class: 'cancelled' })
        .where('id', '=', id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) await writeOutbox(trx, id, 'cancelled', now);
      const row = await trx
        .selectFrom('builds')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? loadBuild(trx, id) : null;
    });
  }

  recoverLostBuilds(
    now: number,
    maxAttempts: number,
  ): Promise<{ lost: Build[]; requeued: Build[] }> {
    return this.db.transaction().execute(async (trx) => {
      const running = await trx
        .selectFrom('builds')
        .selectAll()
        .where('state', '=', 'running')
        .orderBy('id')
        .execute();
      const lost: Build[] = [];
      const requeued: Build[] = [];
      for (const row of running) {
        await trx
          .updateTable('builds')
          .set({
            state: 'error',
            finished_at: now,
            reason: 'lost: the server stopped while the build was running',
            failure_class: 'infrastructure',
          })
          .where('id', '=', row.id)
          .execute();
        // A newer build of the same group already waits: a retry of these older inputs would
        // start after it (concurrency groups start in queue order), so the newer one replaces it.
        const newer = await trx
          .selectFrom('builds')
          .select('id')
          .where('concurrency_group', '=', row.concurrency_group)
          .where('state', '=', 'queued')
          .where('id', '>', row.id)
          .orderBy('id', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (newer) {
          await trx
            .updateTable('builds')
            .set({ related_build: newer.id })
            .where('id', '=', row.id)
            .execute();
        }
        await writeOutbox(trx, row.id, 'finished', now);
        lost.push(await loadBuild(trx, row.id));
        if (row.attempt < maxAttempts && !newer) {
          const inputs = await trx
            .selectFrom('build_inputs')
            .selectAll()
            .where('build_id', '=', row.id)
            .orderBy('position')
            .execute();
          const newId = await insertBuild(
            trx,
            this.shapes,
            {
              job: row.job,
              state: 'queued',
              fingerprint: row.fingerprint,
              definition_hash: row.definition_hash,
              cause: JSON.stringify({ kind: 'retry', previousBuild: Number(row.id) }),
              forced: row.forced,
              ref: row.ref,
              queued_at: now,
              attempt: row.attempt + 1,
              related_build: row.id,
              concurrency_group: row.concurrency_group,
              concurrency_limit: row.concurrency_limit,
            },
            inputs.map((i) => ({
              source: i.source,
              version: i.version,
              ref: i.ref,
              origin: i.origin as never,
              eventId: i.event_id,
            })),
          );
          await trx
            .updateTable('builds')
            .set({ related_build: newId })
            .where('id', '=', row.id)
            .execute();
          await writeOutbox(trx, newId, 'queued', now);
          requeued.push(await loadBuild(trx, newId));
        }
      }
      return { lost, requeued };
    });
  }

  async outputFiles(source: SourceName, version: string): Promise<ArtifactFile[]> {
    const dot = source.indexOf('.');
    const job = source.slice(0, dot);
    const output = source.slice(dot + 1);
    const producer = await this.db
      .selectFrom('build_outputs')
      .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
      .select('build_outputs.build_id')
      .where('builds.job', '=', job)
      .where('build_outputs.name', '=', output)
      .where('build_outputs.digest', '=', version)
      // The newest producer whose files were not pruned by artifact retention.
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('artifacts')
            .select('artifacts.build_id')
            .whereRef('artifacts.build_id', '=', 'build_outputs.build_id')
            .whereRef('artifacts.output', '=', 'build_outputs.name'),
        ),
      )
      .orderBy('build_outputs.build_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!producer) return [];
    return this.artifact(Number(producer.build_id), output);
  }

  // ---- sources -----------------------------------------------------------------------------

  async syncSources(
    sources: ReadonlyArray<{ name: SourceName; kind: string; url: string | null }>,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const s of sources) {
        await trx
          .insertInto('sources')
          .values({ name: s.name, kind: s.kind, url: s.url })
          .onConflict((oc) => oc.column('name').doUpdateSet({ kind: s.kind, url: s.url }))
          .execute();
      }
    });
  }

  async recordPoll(source: SourceName, poll: PollRecord): Promise<void> {
    await this.db
      .updateTable('sources')
      .set((eb) => ({
        last_check_at: poll.at,
        last_check_ok: poll.ok ? 1 : 0,
        last_error: poll.error,
        next_check_at: poll.nextCheckAt,
        poll_failures: poll.ok ? 0 : eb('poll_failures', '+', 1),
        missed_events: poll.missed ? eb('missed_events', '+', 1) : eb.ref('missed_events'),
      }))
      .where('name', '=', source)
      .execute();
  }

  async setNextCheck(source: SourceName, at: number | null): Promise<void> {
    await this.db
      .updateTable('sources')
      .set({ next_check_at: at })
      .where('name', '=', source)
      .execute();
  }

  async sourceHeads(source: SourceName): Promise<SourceHead[]> {
    const rows = await this.headRows().where('heads.source', '=', source).execute();
    return rows.map(toHead);
  }

  // ---- read --------------------------------------------------------------------------------

  async listSources(): Promise<SourceStatus[]> {
    const sources = await this.db.selectFrom('sources').selectAll().orderBy('name').execute();
    const heads = await this.db
      .selectFrom('heads')
      .innerJoin('versions', 'versions.id', 'heads.version_id')
      .select([
        'heads.source',
        'versions.ref',
        'versions.version',
        'versions.created_at',
        'versions.origin',
      ])
      .execute();
    return sources.map((s) => ({
      name: s.name,
      kind: s.kind,
      url: s.url,
      heads: heads
        .filter((h) => h.source === s.name)
        .map((h) => ({
          ref: h.ref === '' ? null : h.ref,
          version: h.version,
          at: Number(h.created_at),
          origin: h.origin,
        })),
      nextCheckAt: nullableNumber(s.next_check_at),
      lastCheckAt: nullableNumber(s.last_check_at),
      lastCheckOk: s.last_check_ok === null ? null : s.last_check_ok === 1,
      lastError: s.last_error,
      pollFailures: s.poll_failures,
      missedEvents: s.missed_events,
      eventsReceived: s.events_received,
      lastEventAt: nullableNumber(s.last_event_at),
    }));
  }

  async jobStatuses(jobs: readonly JobName[]): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    for (const name of jobs) {
      const [latest] = await this.listBuilds({ job: name, limit: 1 });
      const finished = await this.db
        .selectFrom('builds')
        .selectAll()
        .where('job', '=', name)
        .where('state', 'in', ['passed', 'failed', 'error'])
        .orderBy('id', 'desc')
        .limit(10)
        .execute();
      const first = finished[0];
      out.push({
        name,
        latest: latest ?? null,
        lastFinished: first ? await loadBuild(this.db, first.id) : null,
        recentDurationsMs: finished
          .filter((b) => b.started_at !== null && b.finished_at !== null)
          .map((b) => Number(b.finished_at) - Number(b.started_at)),
      });
    }
    return out;
  }

  async listBuilds(f: BuildFilter): Promise<Build[]> {
    let q = this.db.selectFrom('builds').selectAll();
    if (f.job !== undefined) q = q.where('job', '=', f.job);
    if (f.state !== undefined) q = q.where('state', '=', f.state);
    if (f.before !== undefined) q = q.where('id', '<', f.before);
    if (f.source !== undefined || f.version !== undefined) {
      q = q.where('id', 'in', (sub) => {
        let s = sub.selectFrom('build_inputs').select('build_id');
        if (f.source !== undefined) s = s.where('source', '=', f.source);
        if (f.version !== undefined) s = s.where(startsWith('version', f.version));
        return s;
      });
    }
    const rows = await q.orderBy('id', 'desc').limit(f.limit).execute();
    return withInputs(this.db, rows);
  }

  async getBuild(id: number): Promise<BuildDetail | null> {
    const row = await this.db
      .selectFrom('builds')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const [build] = await withInputs(this.db, [row]);
    if (!build) return null;
    const outputs = await this.db
      .selectFrom('build_outputs')
      .selectAll()
      .where('build_id', '=', id)
      .orderBy('name')
      .execute();
    const files = await this.db
      .selectFrom('artifacts')
      .selectAll()
      .where('build_id', '=', id)
      .orderBy('path')
      .execute();
    const collected: CollectedOutput[] = outputs.map((o) => ({
      name: o.name,
      digest: o.digest,
      files: files
        .filter((f) => f.output === o.name)
        .map((f) => ({ path: f.path, digest: f.digest, size: Number(f.size) })),
    }));
    return {
      ...build,
      outputs: collected,
      warnings: JSON.parse(row.warnings) as string[],
      logBytes: Number(row.log_bytes),
      definitionHash: row.definition_hash,
      worker: row.worker,
    };
  }

  async listDecisions(f: {
    job?: JobName;
    withSourcesOf?: readonly SourceName[];
    source?: SourceName;
    version?: string;
    eventId?: number;
    limit: number;
  }): Promise<DecisionRecord[]> {
    let q = this.db
      .selectFrom('decisions')
      .leftJoin('events', 'events.id', 'decisions.event_id')
      .select([
        'decisions.id',
        'decisions.event_id',
        'decisions.job',
        'decisions.rule',
        'decisions.source',
        'decisions.version',
        'decisions.build_id',
        'decisions.detail',
        'decisions.at',
        'events.origin',
      ]);
    const job = f.job;
    const sources = f.withSourcesOf ?? [];
    if (job !== undefined && sources.length > 0) {
      q = q.where((eb) =>
        eb.or([
          eb('decisions.job', '=', job),
          eb.and([eb('decisions.job', 'is', null), eb('decisions.source', 'in', [...sources])]),
        ]),
      );
    } else if (job !== undefined) q = q.where('decisions.job', '=', job);
    if (f.eventId !== undefined) q = q.where('decisions.event_id', '=', f.eventId);
    if (f.source !== undefined) q = q.where('decisions.source', '=', f.source);
    if (f.version !== undefined) q = q.where(startsWith('decisions.version', f.version));
    const rows = await q.orderBy('decisions.id', 'desc').limit(f.limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      eventId: nullableNumber(r.event_id),
      job: r.job,
      rule: r.rule as Rule,
      source: r.source,
      version: r.version,
      buildId: nullableNumber(r.build_id),
      detail: r.detail,
      at: Number(r.at),
      origin: r.origin,
    }));
  }

  async getEvent(id: number): Promise<EventRecord | null> {
    const row = await this.db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const detail = JSON.parse(row.detail) as {
      changedPaths?: string[] | null;
      ancestry?: Ancestry | null;
      job?: string;
    };
    return {
      id: Number(row.id),
      kind: row.kind as EventRecord['kind'],
      source: row.source,
      version: row.version,
      ref: row.ref,
      origin: row.origin,
      deliveryId: row.delivery_id,
      receivedAt: Number(row.received_at),
      processedAt: nullableNumber(row.processed_at),
      outcome: row.outcome,
      changedPaths: detail.changedPaths ?? null,
      ancestry: detail.ancestry ?? null,
      job: detail.job ?? null,
    };
  }

  async firstProducer(source: SourceName, digest: string): Promise<number | null> {
    const dot = source.indexOf('.');
    if (dot < 0) return null;
    const row = await this.db
      .selectFrom('build_outputs')
      .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
      .select((eb) => eb.fn.min('build_outputs.build_id').as('id'))
      .where('builds.job', '=', source.slice(0, dot))
      .where('build_outputs.name', '=', source.slice(dot + 1))
      .where('build_outputs.digest', '=', digest)
      .executeTakeFirst();
    return row?.id == null ? null : Number(row.id);
  }

  async versionRef(source: SourceName, version: string): Promise<string | null | undefined> {
    const row = await this.db
      .selectFrom('versions')
      .select('ref')
      .where('source', '=', source)
      .where('version', '=', version)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    return row.ref === '' ? null : row.ref;
  }

  async findVersions(source: SourceName, prefix: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('versions')
      .select('version')
      .distinct()
      .where('source', '=', source)
      .where(startsWith('version', prefix))
      .orderBy('version')
      .limit(limit)
      .execute();
    return rows.map((r) => r.version);
  }

  async buildsUsing(source: SourceName, version: string): Promise<Build[]> {
    const rows = await this.db
      .selectFrom('builds')
      .selectAll()
      .where('id', 'in', (sub) =>
        sub
          .selectFrom('build_inputs')
          .select('build_id')
          .where('source', '=', source)
          .where('version', '=', version),
      )
      .orderBy('id')
      .execute();
    return withInputs(this.db, rows);
  }

  async producedVersions(buildId: number): Promise<Array<{ source: SourceName; version: string }>> {
    const rows = await this.db
      .selectFrom('build_outputs')
      .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
      .select(['builds.job', 'build_outputs.name', 'build_outputs.digest'])
      .where('build_outputs.build_id', '=', buildId)
      .execute();
    return rows.map((r) => ({ source: `${r.job}.${r.name}`, version: r.digest }));
  }

  async artifact(buildId: number, output: string): Promise<ArtifactFile[]> {
    const rows = await this.db
      .selectFrom('artifacts')
      .selectAll()
      .where('build_id', '=', buildId)
      .where('output', '=', output)
      .orderBy('path')
      .execute();
    return rows.map((r) => ({ path: r.path, digest: r.digest, size: Number(r.size) }));
  }

  sloHistory(since: number): Promise<SloObservation[]> {
    return sloHistory(this.db, since);
  }

  async countBuildsByState(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('builds')
      .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async outboxSince(afterId: number, limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.shapes.run(this.db, hot.outboxSince, { afterId, limit });
    return rows.map((r) => ({
      id: Number(r.id),
      buildId: Number(r.build_id),
      type: r.type as OutboxRecord['type'],
      build: JSON.parse(r.payload) as Build,
      createdAt: Number(r.created_at),
    }));
  }

  async lastOutboxId(): Promise<number> {
    const row = await this.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return row?.id === null || row?.id === undefined ? 0 : Number(row.id);
  }

  async referencedDigest(digest: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('artifacts')
      .select('digest')
      .where('digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  pruneArtifacts(
    keepBuildsPerJob: number | ((job: JobName) => number),
  ): Promise<ArtifactPruneResult> {
    return pruneArtifacts(this.db, keepBuildsPerJob);
  }

  // ---- retention (queries in history-retention.ts) ----------------------------------------

  retentionFacts(): Promise<RetentionFacts> {
    return retentionFacts(this.db);
  }

  deleteBuilds(ids: readonly number[]): Promise<DeletedBuilds> {
    return deleteBuilds(this.db, ids);
  }

  pruneHistory(
    kind: HistoryKind,
    afterId: number,
    limit: number,
    deletable: (row: HistoryRow) => boolean,
    deliveredUpTo: number,
  ): Promise<HistoryBatch> {
    return pruneHistoryBatch(this.db, kind, afterId, limit, deletable, deliveredUpTo);
  }

  // ---- meta --------------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/**
 * Marks queued builds `superseded` by build `by` (a newer queued build, or a skip that found the
 * newest input set already built), each with its outbox row. Returns the ids that were still queued.
 */
async function supersedeQueued(
  trx: Db,
  shapes: Shapes,
  ids: readonly number[],
  by: number,
  now: number,
): Promise<number[]> {
  const done: number[] = [];
  for (const old of ids) {
    const res = await shapes.run(trx, hot.supersede, {
      relatedBuild: by,
      finishedAt: now,
      reason: `superseded by build #${by}`,
      id: old,
    });
    if (Number(res.numAffectedRows ?? 0) > 0) {
      done.push(old);
      const build = await loadBuildShaped(trx, shapes, old);
      await shapes.run(trx, hot.insertOutbox, {
        buildId: old,
        type: 'superseded',
        payload: JSON.stringify(build),
        createdAt: now,
      });
    }
  }
  return done;
}

async function insertEvent(trx: Db, e: NewEvent, shapes: Shapes): Promise<AppendedEvent> {
  const base = { received_at: e.receivedAt };
  let values: Insertable<Database['events']>;
  switch (e.kind) {
    case 'source': {
      if (e.deliveryId !== null) {
        const seen = await shapes.run(trx, hot.eventByDelivery, { deliveryId: e.deliveryId });
        const first = seen.rows[0];
        if (first) return { id: Number(first.id), redelivery: true };
      }
      // The inbox's hottest statement: every column given, so one compiled shape serves all.
      const { rows } = await shapes.run(trx, hot.insertSourceEvent, {
        receivedAt: e.receivedAt,
        source: e.source,
        version: e.version,
        ref: e.ref,
        origin: e.origin,
        deliveryId: e.deliveryId,
        detail: JSON.stringify({ changedPaths: e.changedPaths, producedBy: e.producedBy }),
      });
      const row = rows[0];
      if (!row) throw new Error('inserting the event returned no id');
      return { id: Number(row.id), redelivery: false };
    }
    case 'trigger':
      values = {
        ...base,
        kind: 'trigger',
        origin: 'manual',
        detail: JSON.stringify({
          job: e.job,
          force: e.force,
          by: e.by,
          pins: e.pins ?? [],
          rebuildOf: e.rebuildOf ?? null,
        }),
      };
      break;
    case 'settle':
      values = {
        ...base,
        kind: 'settle',
        origin: 'manual',
        detail: JSON.stringify({ job: e.job }),
      };
      break;
    case 'reconcile':
      values = { ...base, kind: 'reconcile', origin: 'reload' };
      break;
  }
  const row = await trx
    .insertInto('events')
    .values(values)
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), redelivery: false };
}

/** A new build row; omitted columns take their defaults. */
interface NewBuild {
  readonly job: string;
  readonly state: BuildState;
  readonly fingerprint: string;
  readonly definition_hash: string;
  readonly cause: string;
  readonly forced?: number;
  readonly ref: string | null;
  readonly queued_at: number;
  readonly finished_at?: number | null;
  readonly reason?: string | null;
  readonly related_build?: number | null;
  readonly attempt?: number;
  /** Queued builds only: the group the claim limits (skipped builds never run). */
  readonly concurrency_group?: string;
  readonly concurrency_limit?: number;
}

type NewInput = Readonly<{
  source: string;
  version: string;
  ref: string | null;
  origin: string | null;
  eventId: number | null;
}>;

/** The row `insertBuild` stores for `values`, with every column as the table's defaults fill it. */
function newBuildRow(id: number, v: NewBuild): BuildRow {
  return {
    id,
    job: v.job,
    state: v.state,
    fingerprint: v.fingerprint,
    definition_hash: v.definition_hash,
    cause: v.cause,
    forced: v.forced ?? 0,
    ref: v.ref,
    queued_at: v.queued_at,
    started_at: null,
    finished_at: v.finished_at ?? null,
    failed_step: null,
    reason: v.reason ?? null,
    related_build: v.related_build ?? null,
    exit_code: null,
    coverage_lines: null,
    coverage_branches: null,
    coverage_lines_delta: null,
    coverage_branches_delta: null,
    attempt: v.attempt ?? 1,
    worker: null,
    warnings: '[]',
    log_bytes: 0,
    concurrency_group: v.concurrency_group ?? v.job,
    concurrency_limit: v.concurrency_limit ?? 1,
    failure_class: null,
  };
}

function newInputRows(id: number, inputs: readonly NewInput[]): InputRow[] {
  return inputs.map((i, position) => ({
    build_id: id,
    position,
    source: i.source,
    version: i.version,
    ref: i.ref,
    origin: i.origin,
    event_id: i.eventId,
  }));
}

async function insertBuild(
  trx: Db,
  shapes: Shapes,
  values: NewBuild,
  inputs: readonly NewInput[],
): Promise<number> {
  const r = newBuildRow(0, values);
  const { rows } = await shapes.run(trx, hot.insertBuild, {
    job: r.job,
    state: r.state,
    fingerprint: r.fingerprint,
    definitionHash: r.definition_hash,
    cause: r.cause,
    forced: r.forced,
    ref: r.ref,
    queuedAt: r.queued_at,
    finishedAt: r.finished_at,
    reason: r.reason,
    relatedBuild: r.related_build,
    attempt: r.attempt,
    concurrencyGroup: r.concurrency_group,
    concurrencyLimit: r.concurrency_limit,
  });
  const row = rows[0];
  if (!row) throw new Error('inserting the build returned no id');
  const id = Number(row.id);
  for (const i of newInputRows(id, inputs)) {
    await shapes.run(trx, hot.insertInput, {
      buildId: i.build_id,
      position: i.position,
      source: i.source,
      version: i.version,
      ref: i.ref,
      origin: i.origin,
      eventId: i.event_id,
    });
  }
  return id;
}

/** `loadBuild` through compiled shapes (same rows, same `toBuild`), for the scheduler's hot path. */
async function loadBuildShaped(trx: Db, shapes: Shapes, id: number): Promise<Build> {
  const { rows } = await shapes.run(trx, hot.buildById, { id });
  const row = rows[0];
  if (!row) throw new Error(`build ${id} vanished`);
  const { rows: inputs } = await shapes.run(trx, hot.inputsOf, { id });
  return toBuild(row, inputs);
}

/**
 * The outbox row of a build this transaction just inserted: the payload is built from the values
 * written (through `toBuild`, as `loadBuild` would read them back) instead of re-reading the row.
 */
async function writeNewBuildOutbox(
  trx: Db,
  shapes: Shapes,
  id: number,
  values: NewBuild,
  inputs: readonly NewInput[],
  type: OutboxRecord['type'],
  now: number,
): Promise<void> {
  const build = toBuild(newBuildRow(id, values), newInputRows(id, inputs));
  await shapes.run(trx, hot.insertOutbox, {
    buildId: id,
    type,
    payload: JSON.stringify(build),
    createdAt: now,
  });
}

async function upsertJob(
  trx: Db,
  shapes: Shapes,
  name: string,
  hash: string,
  now: number,
): Promise<void> {
  await shapes.run(trx, hot.upsertJob, { name, hash, now });
}

async function writeOutbox(
  trx: Db,
  buildId: number,
  type: OutboxRecord['type'],
  now: number,
): Promise<void> {
  const build = await loadBuild(trx, buildId);
  await trx
    .insertInto('outbox')
    .values({ build_id: buildId, type, payload: JSON.stringify(build), created_at: now })
    .execute();
}

async function loadBuild(db: Db, id: number): Promise<Build> {
  const row = await db
    .selectFrom('builds')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const [build] = await withInputs(db, [row]);
  if (!build) throw new Error(`build ${id} vanished`);
  return build;
}

async function withInputs(db: Db, rows: BuildRow[]): Promise<Build[]> {
  if (rows.length === 0) return [];
  const inputs = await db
    .selectFrom('build_inputs')
    .selectAll()
    .where(
      'build_id',
      'in',
      rows.map((r) => r.id),
    )
    .execute();
  return rows.map((r) => toBuild(r, inputs));
}

function delta(now: number | null, before: number | null): number | null {
  return now === null || before === null ? null : Math.round((now - before) * 100) / 100;
}

function nullableNumber(v: number | null): number | null {
  return v === null ? null : Number(v);
}

/** `column` starts with `prefix`, without LIKE's wildcard and escape differences between backends. */
function startsWith(column: string, prefix: string) {
  return sql<boolean>`substr(${sql.ref(column)}, 1, ${prefix.length}) = ${prefix}`;
}

/**
 * Kysely builds and compiles a query tree on every call, which costs more than running a small
 * statement (the SQLite adapter already reuses prepared statements by SQL text). Hot statements
 * go through here instead: each builder is compiled once per store, with a marker in place of
 * every parameter, and later calls run the same SQL with the new values in the compiled order.
 * A builder must pass its parameters through verbatim (no `??`, no branching on them), and every
 * parameter must be given (use `null`, never `undefined`).
 */
class Shapes {
  private readonly compiled = new Map<object, Shape>();

  run<P extends Record<string, unknown>, R>(
    db: Db,
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>> {
    let shape = this.compiled.get(build);
    if (!shape) {
      shape = compileShape(db, build, Object.keys(params));
      this.compiled.set(build, shape);
    }
    const parameters = shape.slots.map((s) => ('key' in s ? params[s.key] : s.value));
    return db.executeQuery(CompiledQuery.raw(shape.sql, parameters));
  }
}

interface Shape {
  readonly sql: string;
  readonly slots: ReadonlyArray<{ readonly key: string } | { readonly value: unknown }>;
}

class Marker {
  constructor(readonly key: string) {}
}

function compileShape<P>(
  db: Db,
  build: (db: Db, p: P) => Compilable,
  keys: readonly string[],
): Shape {
  const markers = Object.fromEntries(keys.map((k) => [k, new Marker(k)])) as P;
  const compiled = build(db, markers).compile();
  const used = new Set<string>();
  const slots = compiled.parameters.map((p) => {
    if (!(p instanceof Marker)) return { value: p };
    used.add(p.key);
    return { key: p.key };
  });
  const unused = keys.filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`query shape ignores parameters: ${unused.join(', ')}`);
  return { sql: compiled.sql, slots };
}

/** The scheduler's and the inbox's hot statements (see `Shapes`). */
const hot = {
  pendingEvents: (db: Db, p: { limit: number }) =>
    db
      .selectFrom('events')
      .selectAll()
      .where('processed_at', 'is', null)
      .orderBy('id')
      .limit(p.limit),
  dueSettles: (db: Db, p: { now: number }) =>
    db.selectFrom('pending_settles').select('job').where('due_at', '<=', p.now),
  outboxSince: (db: Db, p: { afterId: number; limit: number }) =>
    db.selectFrom('outbox').selectAll().where('id', '>', p.afterId).orderBy('id').limit(p.limit),
  eventByDelivery: (db: Db, p: { deliveryId: string }) =>
    db.selectFrom('events').select('id').where('delivery_id', '=', p.deliveryId),
  insertSourceEvent: (
    db: Db,
    p: {
      receivedAt: number;
      source: string;
      version: string;
      ref: string | null;
      origin: string;
      deliveryId: string | null;
      detail: string;
    },
  ) =>
    db
      .insertInto('events')
      .values({
        received_at: p.receivedAt,
        kind: 'source',
        source: p.source,
        version: p.version,
        ref: p.ref,
        origin: p.origin,
        delivery_id: p.deliveryId,
        detail: p.detail,
      })
      .returning('id'),
  insertVersion: (
    db: Db,
    p: {
      source: string;
      version: string;
      ref: string;
      eventId: number;
      origin: string;
      producedBy: number | null;
      createdAt: number;
    },
  ) =>
    db
      .insertInto('versions')
      .values({
        source: p.source,
        version: p.version,
        ref: p.ref,
        event_id: p.eventId,
        origin: p.origin,
        produced_by: p.producedBy,
        created_at: p.createdAt,
      })
      .returning('id'),
  upsertHead: (db: Db, p: { source: string; ref: string; versionId: number }) =>
    db
      .insertInto('heads')
      .values({ source: p.source, ref: p.ref, version_id: p.versionId })
      .onConflict((oc) => oc.columns(['source', 'ref']).doUpdateSet({ version_id: p.versionId })),
  insertBuild: (
    db: Db,
    p: {
      job: string;
      state: string;
      fingerprint: string;
      definitionHash: string;
      cause: string;
      forced: number;
      ref: string | null;
      queuedAt: number;
      finishedAt: number | null;
      reason: string | null;
      relatedBuild: number | null;
      attempt: number;
      concurrencyGroup: string;
      concurrencyLimit: number;
    },
  ) =>
    db
      .insertInto('builds')
      .values({
        job: p.job,
        state: p.state,
        fingerprint: p.fingerprint,
        definition_hash: p.definitionHash,
        cause: p.cause,
        forced: p.forced,
        ref: p.ref,
        queued_at: p.queuedAt,
        finished_at: p.finishedAt,
        reason: p.reason,
        related_build: p.relatedBuild,
        attempt: p.attempt,
        concurrency_group: p.concurrencyGroup,
        concurrency_limit: p.concurrencyLimit,
      })
      .returning('id'),
  insertInput: (
    db: Db,
    p: {
      buildId: number;
      position: number;
      source: string;
      version: string;
      ref: string | null;
      origin: string | null;
      eventId: number | null;
    },
  ) =>
    db.insertInto('build_inputs').values({
      build_id: p.buildId,
      position: p.position,
      source: p.source,
      version: p.version,
      ref: p.ref,
      origin: p.origin,
      event_id: p.eventId,
    }),
  buildById: (db: Db, p: { id: number }) =>
    db.selectFrom('builds').selectAll().where('id', '=', p.id),
  inputsOf: (db: Db, p: { id: number }) =>
    db.selectFrom('build_inputs').selectAll().where('build_id', '=', p.id),
  upsertJob: (db: Db, p: { name: string; hash: string; now: number }) =>
    db
      .insertInto('jobs')
      .values({ name: p.name, definition_hash: p.hash, updated_at: p.now })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({ definition_hash: p.hash, updated_at: p.now }),
      ),
  insertOutbox: (
    db: Db,
    p: { buildId: number; type: string; payload: string; createdAt: number },
  ) =>
    db
      .insertInto('outbox')
      .values({ build_id: p.buildId, type: p.type, payload: p.payload, created_at: p.createdAt }),
  supersede: (
    db: Db,
    p: { relatedBuild: number; finishedAt: number; reason: string; id: number },
  ) =>
    db
      .updateTable('builds')
      .set({
        state: 'superseded',
        failure_class: 'superseded',
        related_build: p.relatedBuild,
        finished_at: p.finishedAt,
        reason: p.reason,
      })
      .where('id', '=', p.id)
      .where('state', '=', 'queued'),
  insertDecision: (
    db: Db,
    p: {
      eventId: number;
      job: string | null;
      rule: string;
      source: string | null;
      version: string | null;
      buildId: number | null;
      detail: string;
      at: number;
    },
  ) =>
    db.insertInto('decisions').values({
      event_id: p.eventId,
      job: p.job,
      rule: p.rule,
      source: p.source,
      version: p.version,
      build_id: p.buildId,
      detail: p.detail,
      at: p.at,
    }),
  countReceived: (db: Db, p: { n: number; at: number; name: string }) =>
    db
      .updateTable('sources')
      .set((eb) => ({ events_received: eb('events_received', '+', p.n), last_event_at: p.at }))
      .where('name', '=', p.name),
  markProcessed: (db: Db, p: { processedAt: number; outcome: string; id: number }) =>
    db
      .updateTable('events')
      .set({ processed_at: p.processedAt, outcome: p.outcome })
      .where('id', '=', p.id),
};
