import type { Selectable, Transaction } from 'kysely';
import type { Build } from '../../core/build.js';
import type { Database } from '../schema.js';
import { insertBuild, loadBuild, writeOutbox } from './build-writes.js';
import type { SqlConnection } from './connection.js';

export const LOST_AT_RESTART = 'lost: the server stopped while the build was running';

/**
 * Ends running builds `error` with `reason` (a `lost: …` text), one `finished` outbox row each,
 * and re-queues each as a new attempt while `attempt < maxAttempts` — unless a newer build of
 * its concurrency group already waits (it would start after it; the newer one replaces it).
 * Inside the caller's transaction; the rows must be `running` as read in it.
 */
export async function loseBuilds(
  trx: Transaction<Database>,
  conn: SqlConnection,
  rows: ReadonlyArray<Selectable<Database['builds']>>,
  reason: (row: Selectable<Database['builds']>) => string,
  now: number,
  maxAttempts: number,
): Promise<{ lost: Build[]; requeued: Build[] }> {
  const lost: Build[] = [];
  const requeued: Build[] = [];
  for (const row of rows) {
    await trx
      .updateTable('builds')
      .set({ state: 'error', finished_at: now, reason: reason(row), lease_expires_at: null })
      .where('id', '=', row.id)
      .execute();
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
        conn.shapes,
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
}
