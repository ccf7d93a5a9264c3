import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * What every event writes, made smaller: each index a row enters is at least one page of the
 * commit (SQLite's WAL, PostgreSQL's too), ~44 pages per decided event before this.
 * - The `jobs` table goes: it was written for every queued build and never read (a job's last
 *   definition hash is its last build's).
 * - Four indexes keep only the rows their queries ask for, all of which name a value: a build's
 *   lease (only while an agent or replica holds it), a finished build's end, the build that
 *   produced a version (only output versions have one), an output event's trace root. Queued
 *   builds, source versions and source events, the rows every push writes, enter none of them.
 * - `events_unprocessed` holds the unprocessed events only (the scheduler's one question of
 *   it): an event leaves it when decided instead of moving to its end.
 */
export async function fewerPagesPerEvent(db: Kysely<Database>): Promise<void> {
  await db.schema.dropTable('jobs').ifExists().execute();
  const partial: Array<[string, keyof Database, string[], string, 'is' | 'is not']> = [
    ['builds_lease', 'builds', ['state', 'lease_expires_at'], 'lease_expires_at', 'is not'],
    ['builds_finished_at', 'builds', ['finished_at'], 'finished_at', 'is not'],
    ['versions_produced_by', 'versions', ['produced_by'], 'produced_by', 'is not'],
    ['events_trace_root', 'events', ['trace_root'], 'trace_root', 'is not'],
    ['events_unprocessed', 'events', ['id'], 'processed_at', 'is'],
  ];
  for (const [name, table, columns, column, op] of partial) {
    await db.schema.dropIndex(name).ifExists().execute();
    await db.schema
      .createIndex(name)
      .on(table)
      .columns(columns)
      .where(sql.ref(column), op, null)
      .execute();
  }
}
