import type { DeliveryObservation } from '../../core/slo/delivery-tally.js';
import type { TraceObservation } from '../../core/slo/lead-time.js';
import type { SloObservation } from '../../core/slo/slo-set.js';
import type { Build } from '../../core/build.js';
import type { JobName, SourceName } from '../../core/pipeline.js';
import type { ArtifactFile, CollectedOutput } from '../../executor/port.js';
import type {
  BuildDetail,
  BuildFilter,
  DecisionRecord,
  EventRecord,
  JobStatus,
  ReadPort,
  SourceStatus,
} from '../ports.js';
import { loadBuild, withInputs } from './build-writes.js';
import { sloHistory } from './slo-history.js';
import type { Db, SqlConnection } from './connection.js';
import {
  findVersions,
  firstProducer,
  getEvent,
  listDecisions,
  producedVersions,
  versionRef,
  type DecisionFilter,
} from './read-history.js';
import { nullableNumber, startsWith } from './sql-helpers.js';

/**
 * {@link ReadPort}: the read model of the API and CLI. Builds, jobs and sources here; decisions,
 * events and versions in read-history.ts.
 */
export class SqlReadModel implements ReadPort {
  constructor(private readonly conn: SqlConnection) {}

  async listSources(): Promise<SourceStatus[]> {
    const sources = await this.conn.db.selectFrom('sources').selectAll().orderBy('name').execute();
    const heads = await this.conn.db
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
      const finished = await this.conn.db
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
        lastFinished: first ? await loadBuild(this.conn.db, first.id) : null,
        recentDurationsMs: finished
          .filter((b) => b.started_at !== null && b.finished_at !== null)
          .map((b) => Number(b.finished_at) - Number(b.started_at)),
      });
    }
    return out;
  }

  async listBuilds(f: BuildFilter): Promise<Build[]> {
    let q = this.conn.db.selectFrom('builds').selectAll();
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
    return withInputs(this.conn.db, rows);
  }

  async getBuild(id: number): Promise<BuildDetail | null> {
    const row = await this.conn.db
      .selectFrom('builds')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const [build] = await withInputs(this.conn.db, [row]);
    if (!build) return null;
    const outputs = await this.conn.db
      .selectFrom('build_outputs')
      .selectAll()
      .where('build_id', '=', id)
      .orderBy('name')
      .execute();
    const files = await this.conn.db
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

  async buildsUsing(source: SourceName, version: string): Promise<Build[]> {
    const rows = await this.conn.db
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
    return withInputs(this.conn.db, rows);
  }

  artifact(buildId: number, output: string): Promise<ArtifactFile[]> {
    return artifactFiles(this.conn.db, buildId, output);
  }

  sloHistory(
    since: number,
  ): Promise<Array<SloObservation | DeliveryObservation | TraceObservation>> {
    return sloHistory(this.conn.db, since);
  }

  async countBuildsByState(): Promise<Record<string, number>> {
    const rows = await this.conn.db
      .selectFrom('builds')
      .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async lastOutboxId(): Promise<number> {
    const row = await this.conn.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return row?.id === null || row?.id === undefined ? 0 : Number(row.id);
  }

  listDecisions(f: DecisionFilter): Promise<DecisionRecord[]> {
    return listDecisions(this.conn.db, f);
  }

  getEvent(id: number): Promise<EventRecord | null> {
    return getEvent(this.conn.db, id);
  }

  firstProducer(source: SourceName, digest: string): Promise<number | null> {
    return firstProducer(this.conn.db, source, digest);
  }

  versionRef(source: SourceName, version: string): Promise<string | null | undefined> {
    return versionRef(this.conn.db, source, version);
  }

  findVersions(source: SourceName, prefix: string, limit: number): Promise<string[]> {
    return findVersions(this.conn.db, source, prefix, limit);
  }

  producedVersions(buildId: number): Promise<Array<{ source: SourceName; version: string }>> {
    return producedVersions(this.conn.db, buildId);
  }
}

/** The files of one output of a build, by path. */
export async function artifactFiles(
  db: Db,
  buildId: number,
  output: string,
): Promise<ArtifactFile[]> {
  const rows = await db
    .selectFrom('artifacts')
    .selectAll()
    .where('build_id', '=', buildId)
    .where('output', '=', output)
    .orderBy('path')
    .execute();
  return rows.map((r) => ({ path: r.path, digest: r.digest, size: Number(r.size) }));
}
