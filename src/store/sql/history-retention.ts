import { sql, type Kysely } from 'kysely';
import type { BuildState } from '../../core/build.js';
import type { RetentionFacts } from '../../core/retention.js';
import type { DeletedBuilds, HistoryBatch, HistoryKind, HistoryRow } from '../ports.js';
import type { Database } from '../schema.js';

const ACTIVE: BuildState[] = ['queued', 'running'];
/** Bound on `in (...)` lists, well below every backend's parameter limit. */
const CHUNK = 500;

/**
 * The queries behind retention (docs/operations.md, "Retention"). The planner (core/retention.ts)
 * decides which builds go; these functions re-check, inside each transaction, the rules that
 * must never be broken whatever the plan says — a queued or running build, the producer of a
 * current head, an unprocessed event, an undelivered outbox row are never deleted — and delete
 * in batches the caller bounds, so no transaction holds the writer for long.
 */

/** Every build (id, job, state, time), head producers and job-output input producers. */
export async function retentionFacts(db: Kysely<Database>): Promise<RetentionFacts> {
  const builds = await db
    .selectFrom('builds')
    .select(['id', 'job', 'state', 'queued_at', 'finished_at'])
    .execute();
  const heads = await db
    .selectFrom('heads')
    .innerJoin('versions', 'versions.id', 'heads.version_id')
    .select('versions.produced_by')
    .where('versions.produced_by', 'is not', null)
    .execute();
  // A job-output input names its version by (source, digest); its producer is the version row's.
  const producers = await db
    .selectFrom('build_inputs as bi')
    .innerJoin('versions as v', (j) =>
      j.onRef('v.source', '=', 'bi.source').onRef('v.version', '=', 'bi.version'),
    )
    .select(['bi.build_id', 'v.produced_by'])
    .where('v.produced_by', 'is not', null)
    .distinct()
    .execute();
  const inputProducers = new Map<number, number[]>();
  for (const r of producers) {
    const id = Number(r.build_id);
    const list = inputProducers.get(id) ?? [];
    list.push(Number(r.produced_by));
    inputProducers.set(id, list);
  }
  return {
    builds: builds.map((b) => ({
      id: Number(b.id),
      job: b.job,
      state: b.state as BuildState,
      at: Number(b.finished_at ?? b.queued_at),
    })),
    headProducers: heads.map((h) => Number(h.produced_by)),
    inputProducers,
  };
}

/**
 * One transaction: deletes the builds among `ids` that are finished and produce no current head,
 * with their decisions (their inputs, outputs and artifact rows go by cascade). Log files are the
 * caller's: it removes them after this commits (a crash in between leaves a file, never a row
 * naming a missing file).
 */
export async function deleteBuilds(
  db: Kysely<Database>,
  ids: readonly number[],
): Promise<DeletedBuilds> {
  if (ids.length > CHUNK)
    throw new RangeError(`at most ${CHUNK} builds per call, got ${ids.length}`);
  if (ids.length === 0) return { builds: [], decisions: 0 };
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('builds as b')
      .select(['b.id', 'b.job', 'b.fingerprint', 'b.log_bytes'])
      .where('b.id', 'in', ids)
      .where('b.state', 'not in', ACTIVE)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('heads as h')
              .innerJoin('versions as v', 'v.id', 'h.version_id')
              .select('h.source')
              .whereRef('v.produced_by', '=', 'b.id'),
          ),
        ),
      )
      .execute();
    if (rows.length === 0) return { builds: [], decisions: 0 };
    const gone = rows.map((r) => Number(r.id));
    const d = await trx.deleteFrom('decisions').where('build_id', 'in', gone).executeTakeFirst();
    // Explicit, not only by cascade: a backend without foreign keys on must not keep orphans.
    await trx.deleteFrom('artifacts').where('build_id', 'in', gone).execute();
    await trx.deleteFrom('build_outputs').where('build_id', 'in', gone).execute();
    await trx.deleteFrom('build_inputs').where('build_id', 'in', gone).execute();
    await trx.deleteFrom('builds').where('id', 'in', gone).execute();
    return {
      builds: rows.map((r) => ({
        id: Number(r.id),
        job: r.job,
        fingerprint: r.fingerprint,
        logBytes: Number(r.log_bytes),
      })),
      decisions: Number(d.numDeletedRows),
    };
  });
}

/**
 * One transaction over at most `limit` rows of `kind` after `afterId` (id order): the rows the
 * store may delete (see `candidates`) and `deletable` accepts are deleted. `lastId` is where the
 * next batch starts; `done` when the table has no rows after it.
 */
export async function pruneHistoryBatch(
  db: Kysely<Database>,
  kind: HistoryKind,
  afterId: number,
  limit: number,
  deletable: (row: HistoryRow) => boolean,
  deliveredUpTo: number,
): Promise<HistoryBatch> {
  return db.transaction().execute(async (trx) => {
    const rows = await candidates(trx, kind, afterId, limit, deliveredUpTo);
    const chosen = rows.filter((r) => r.allowed && deletable(r)).map((r) => r.id);
    let deleted = 0;
    let deliveries = 0;
    if (chosen.length > 0) {
      if (kind === 'outbox') {
        const d = await trx
          .deleteFrom('deliveries')
          .where('outbox_id', 'in', chosen)
          .where('state', '=', 'delivered')
          .executeTakeFirst();
        deliveries = Number(d.numDeletedRows);
      }
      const res = await trx.deleteFrom(kind).where('id', 'in', chosen).executeTakeFirst();
      deleted = Number(res.numDeletedRows);
    }
    const last = rows.at(-1)?.id ?? afterId;
    return { examined: rows.length, deleted, deliveries, lastId: last, done: rows.length < limit };
  });
}

type Candidate = HistoryRow & { readonly allowed: boolean };

/** The next rows of `kind`, each with whether the store's own rules allow deleting it. */
async function candidates(
  db: Kysely<Database>,
  kind: HistoryKind,
  afterId: number,
  limit: number,
  deliveredUpTo: number,
): Promise<Candidate[]> {
  const flag = (b: unknown): boolean => Number(b) === 1;
  switch (kind) {
    case 'decisions': {
      // A decision of a build that still exists stays with it.
      const rows = await db
        .selectFrom('decisions as d')
        .select(['d.id', 'd.job', 'd.source', 'd.at'])
        .select((eb) =>
          eb
            .case()
            .when('d.build_id', 'is', null)
            .then(1)
            .when(
              eb.not(
                eb.exists(
                  eb.selectFrom('builds as b').select('b.id').whereRef('b.id', '=', 'd.build_id'),
                ),
              ),
            )
            .then(1)
            .else(0)
            .end()
            .as('allowed'),
        )
        .where('d.id', '>', afterId)
        .orderBy('d.id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        job: r.job,
        source: r.source,
        at: Number(r.at),
        allowed: flag(r.allowed),
      }));
    }
    case 'versions': {
      // Never a head; never the version of an input of a build that still exists.
      const rows = await db
        .selectFrom('versions as v')
        .select(['v.id', 'v.source', 'v.created_at'])
        .select(
          sql<number>`case when exists (select 1 from heads h where h.version_id = v.id)
            or exists (select 1 from build_inputs bi where bi.source = v.source and bi.version = v.version)
            or (v.produced_by is not null and exists (select 1 from builds b where b.id = v.produced_by))
            then 0 else 1 end`.as('allowed'),
        )
        .where('v.id', '>', afterId)
        .orderBy('v.id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        job: null,
        source: r.source,
        at: Number(r.created_at),
        allowed: flag(r.allowed),
      }));
    }
    case 'events': {
      // Processed, and named by no remaining decision, build input, version or quiet period.
      const rows = await db
        .selectFrom('events as e')
        .select(['e.id', 'e.kind', 'e.source', 'e.detail', 'e.received_at'])
        .select(
          sql<number>`case when e.processed_at is null
            or exists (select 1 from decisions d where d.event_id = e.id)
            or exists (select 1 from build_inputs bi where bi.event_id = e.id)
            or exists (select 1 from versions v where v.event_id = e.id)
            or exists (select 1 from pending_settles p where p.event_id = e.id)
            then 0 else 1 end`.as('allowed'),
        )
        .where('e.id', '>', afterId)
        .orderBy('e.id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        job: r.kind === 'trigger' || r.kind === 'settle' ? jobOf(r.detail) : null,
        source: r.source,
        at: Number(r.received_at),
        allowed: flag(r.allowed),
      }));
    }
    case 'outbox': {
      // Delivered to every target, its build gone, no delivery pending or dead; never the
      // newest row (relays restart after it).
      const rows = await db
        .selectFrom('outbox as o')
        .select(['o.id', 'o.created_at'])
        .select(
          sql<number>`case when o.id > ${deliveredUpTo}
            or o.id >= (select max(id) from outbox)
            or exists (select 1 from builds b where b.id = o.build_id)
            or exists (select 1 from deliveries x where x.outbox_id = o.id and x.state <> 'delivered')
            then 0 else 1 end`.as('allowed'),
        )
        .where('o.id', '>', afterId)
        .orderBy('o.id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        job: null,
        source: null,
        at: Number(r.created_at),
        allowed: flag(r.allowed),
      }));
    }
  }
}

function jobOf(detail: string): string | null {
  try {
    const job: unknown = (JSON.parse(detail) as { job?: unknown }).job;
    return typeof job === 'string' ? job : null;
  } catch {
    return null;
  }
}
