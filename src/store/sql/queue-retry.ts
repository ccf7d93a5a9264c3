import type { Build } from '../../core/build.js';
import { insertBuild, loadBuild, writeOutbox } from './build-writes.js';
import type { SqlConnection } from './connection.js';

/**
 * {@link QueuePort.queueRetry}: a new queued build with `previous`'s inputs, fingerprint and
 * group (cause `retry`, attempt + 1), the two linked both ways through `related_build`, one
 * `queued` outbox row — in one transaction. `null` when `previous` is unknown or already retried.
 */
export function queueRetry(
  conn: SqlConnection,
  previous: number,
  now: number,
): Promise<Build | null> {
  return conn.transaction(async (trx) => {
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
      .where('id', '=', previous)
      .execute();
    await writeOutbox(trx, newId, 'queued', now);
    return loadBuild(trx, newId);
  });
}
