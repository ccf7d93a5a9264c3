import type { Selectable } from 'kysely';
import type { Build } from '../../core/build.js';
import type { Database } from '../schema.js';
import { insertBuild, loadBuild, writeOutbox } from './build-writes.js';
import type { Db, Shapes, SqlConnection } from './connection.js';

/**
 * {@link QueuePort.queueRetry}: a new queued build with `previous`'s inputs, fingerprint and
 * group (cause `retry`, attempt + 1), the two linked both ways through `related_build`, one
 * `queued` outbox row — in one transaction. `null` when `previous` is unknown or already retried.
 */
export function queueRetry(
  conn: SqlConnection,
  previous: number,
  now: number,
  notBefore: number | null = null,
): Promise<Build | null> {
  return conn.transaction(async (trx) => {
    const id = await insertRetry(trx, conn.shapes, previous, now, notBefore);
    return id === null ? null : loadBuild(trx, id);
  });
}

/**
 * The retry of `previous` inside the caller's transaction (also `finishBuild`'s, so an ending and
 * its retry are written together); the claim skips it until `notBefore`. Its id, or `null`.
 */
export async function insertRetry(
  trx: Db,
  shapes: Shapes,
  previous: number,
  now: number,
  notBefore: number | null,
): Promise<number | null> {
  const row = await trx
    .selectFrom('builds')
    .selectAll()
    .where('id', '=', previous)
    .executeTakeFirst();
  // Already retried: its link points at a newer build (a retry's own link points back, older).
  if (!row || (row.related_build !== null && row.related_build > row.id)) return null;
  const newId = await insertNextAttempt(trx, shapes, row, now);
  if (notBefore !== null && notBefore > now)
    await trx
      .updateTable('builds')
      .set({ not_before: notBefore })
      .where('id', '=', newId)
      .execute();
  return newId;
}

/** {@link QueuePort.nextRetryAt}: the earliest `not_before` after `now` of a queued build. */
export async function nextRetryAt(db: Db, now: number): Promise<number | null> {
  const row = await db
    .selectFrom('builds')
    .select((e) => e.fn.min('not_before').as('at'))
    .where('state', '=', 'queued')
    .where('not_before', '>', now)
    .executeTakeFirst();
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

/**
 * The next attempt of `row` (a lost or retried build): queued with its inputs, fingerprint and
 * group, cause `retry`, attempt + 1, both builds linked through `related_build`, one `queued`
 * outbox row. Shared by restart recovery and `retry:` so a re-run is written one way. Its id.
 */
export async function insertNextAttempt(
  trx: Db,
  shapes: Shapes,
  row: Selectable<Database['builds']>,
  now: number,
): Promise<number> {
  const inputs = await trx
    .selectFrom('build_inputs')
    .selectAll()
    .where('build_id', '=', row.id)
    .orderBy('position')
    .execute();
  const newId = await insertBuild(
    trx,
    shapes,
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
      supersede: row.supersede,
    },
    inputs.map((i) => ({
      source: i.source,
      version: i.version,
      ref: i.ref,
      origin: i.origin as never,
      eventId: i.event_id,
    })),
  );
  await trx.updateTable('builds').set({ related_build: newId }).where('id', '=', row.id).execute();
  await writeOutbox(trx, newId, 'queued', now);
  return newId;
}
