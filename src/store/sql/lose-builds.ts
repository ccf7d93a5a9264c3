import type { Selectable, Transaction } from 'kysely';
import type { Build } from '../../core/build.js';
import type { Database } from '../schema.js';
import { loadBuild, writeOutbox } from './build-writes.js';
import type { SqlConnection } from './connection.js';
import { insertNextAttempt } from './queue-retry.js';

export const LOST_AT_RESTART = 'lost: the server stopped while the build was running';

/**
 * Ends running builds `error` with `reason` (a `lost: …` text, class `infrastructure`), one
 * `finished` outbox row each,
 * and re-queues each as a new attempt while `attempt < maxAttempts` — unless its job supersedes
 * (`builds.supersede`) and a newer build of its concurrency group already waits (it would start
 * after it; the newer one replaces it). With `supersede: false` every version must build, so a
 * lost one is always re-queued (within its attempts), whatever waits behind it.
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
    // Guarded by state: on PostgreSQL a concurrent finish (an agent's result, another replica's
    // sweep) may have ended the row since it was read; the UPDATE waits for it and skips it.
    const ended = await trx
      .updateTable('builds')
      .set({
        state: 'error',
        finished_at: now,
        reason: reason(row),
        failure_class: 'infrastructure',
        lease_expires_at: null,
      })
      .where('id', '=', row.id)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) === 0) continue;
    // A newer build of the same group already waits: a retry of these older inputs would start
    // after it (concurrency groups start in queue order), so the newer one replaces it — if the
    // job lets newer builds replace older ones at all.
    const newer =
      row.supersede === 0
        ? undefined
        : await trx
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
      const newId = await insertNextAttempt(trx, conn.shapes, row, now);
      requeued.push(await loadBuild(trx, newId));
    }
  }
  return { lost, requeued };
}
