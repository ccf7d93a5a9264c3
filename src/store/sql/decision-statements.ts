import type { Db } from './connection.js';

/** The decision writer's hot statements (see `Shapes`). */
export const decisionStatements = {
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
  upsertJob: (db: Db, p: { name: string; hash: string; now: number }) =>
    db
      .insertInto('jobs')
      .values({ name: p.name, definition_hash: p.hash, updated_at: p.now })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({ definition_hash: p.hash, updated_at: p.now }),
      ),
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
      .where('id', '=', p.id)
      .where('processed_at', 'is', null),
};
