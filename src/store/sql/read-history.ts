import type { Ancestry } from '../../core/event.js';
import { outputSourceName, splitOutputSource } from '../../core/output-source.js';
import type { SourceName } from '../../core/pipeline.js';
import type { Rule } from '../../core/scheduler/index.js';
import type { DecisionRecord, EventRecord, ReadPort } from '../ports.js';
import type { Db } from './connection.js';
import { nullableNumber, startsWith } from './sql-helpers.js';

/* The read model's history: decisions, inbox events and versions (see read-store.ts). */

export type DecisionFilter = Parameters<ReadPort['listDecisions']>[0];

export async function listDecisions(db: Db, f: DecisionFilter): Promise<DecisionRecord[]> {
  let q = db
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

export async function getEvent(db: Db, id: number): Promise<EventRecord | null> {
  const row = await db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
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

export async function firstProducer(
  db: Db,
  source: SourceName,
  digest: string,
): Promise<number | null> {
  const out = splitOutputSource(source);
  if (!out) return null;
  const row = await db
    .selectFrom('build_outputs')
    .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
    .select((eb) => eb.fn.min('build_outputs.build_id').as('id'))
    .where('builds.job', '=', out.job)
    .where('build_outputs.name', '=', out.output)
    .where('build_outputs.digest', '=', digest)
    .executeTakeFirst();
  return row?.id == null ? null : Number(row.id);
}

export async function versionRef(
  db: Db,
  source: SourceName,
  version: string,
): Promise<string | null | undefined> {
  const row = await db
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

export async function findVersions(
  db: Db,
  source: SourceName,
  prefix: string,
  limit: number,
): Promise<string[]> {
  const rows = await db
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

export async function producedVersions(
  db: Db,
  buildId: number,
): Promise<Array<{ source: SourceName; version: string }>> {
  const rows = await db
    .selectFrom('build_outputs')
    .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
    .select(['builds.job', 'build_outputs.name', 'build_outputs.digest'])
    .where('build_outputs.build_id', '=', buildId)
    .execute();
  return rows.map((r) => ({ source: outputSourceName(r.job, r.name), version: r.digest }));
}
