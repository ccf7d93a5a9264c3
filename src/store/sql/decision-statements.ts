import { sql } from 'kysely';
import type { Db } from './connection.js';

/** What superseding sets on a queued build: the statement and the outbox payload agree on it. */
export const supersededColumns = (p: {
  relatedBuild: number;
  finishedAt: number;
  reason: string;
}) => ({
  state: 'superseded',
  failure_class: 'superseded',
  related_build: p.relatedBuild,
  finished_at: p.finishedAt,
  reason: p.reason,
});

/** The decision writer's hot statements (see `Shapes`). */
export const decisionStatements = {
  /** With an id reserved beforehand (see `reserveIds`). */
  insertVersion: (
    db: Db,
    p: {
      id: number;
      source: string;
      version: string;
      ref: string;
      eventId: number;
      origin: string;
      producedBy: number | null;
      createdAt: number;
    },
  ) =>
    db.insertInto('versions').values({
      id: p.id,
      source: p.source,
      version: p.version,
      ref: p.ref,
      event_id: p.eventId,
      origin: p.origin,
      produced_by: p.producedBy,
      created_at: p.createdAt,
    }),
  upsertHead: (db: Db, p: { source: string; ref: string; versionId: number }) =>
    db
      .insertInto('heads')
      .values({ source: p.source, ref: p.ref, version_id: p.versionId })
      .onConflict((oc) => oc.columns(['source', 'ref']).doUpdateSet({ version_id: p.versionId })),
  supersede: (
    db: Db,
    p: { relatedBuild: number; finishedAt: number; reason: string; id: number },
  ) =>
    db
      .updateTable('builds')
      .set(supersededColumns(p))
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
      .where('id', '=', p.id)
      .where('processed_at', 'is', null),
  upsertSettle: (db: Db, p: { job: string; dueAt: number; eventId: number }) =>
    db
      .insertInto('pending_settles')
      .values({ job: p.job, due_at: p.dueAt, event_id: p.eventId })
      .onConflict((oc) => oc.column('job').doUpdateSet({ due_at: p.dueAt, event_id: p.eventId })),
  setEventDetail: (db: Db, p: { detail: string; id: number }) =>
    db.updateTable('events').set({ detail: p.detail }).where('id', '=', p.id),
  /**
   * `n` new ids of `table`'s key from its sequence (PostgreSQL), in increasing order, never handed
   * out again whether or not the transaction commits.
   */
  nextIds: (db: Db, p: { table: string; n: number }) => ({
    compile: () =>
      sql<{ id: number }>`select nextval(pg_get_serial_sequence(${p.table}, 'id')) as id
        from generate_series(1, ${p.n}::integer)`.compile(db),
  }),
  /**
   * The largest id `table` (AUTOINCREMENT, SQLite) ever gave; the single writer makes the next ones
   * this transaction's until it inserts them.
   */
  lastId: (db: Db, p: { table: string }) => ({
    compile: () =>
      sql<{ seq: number }>`select seq from sqlite_sequence where name = ${p.table}`.compile(db),
  }),
};
