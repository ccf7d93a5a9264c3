import type { Kysely } from 'kysely';
import type { DdlDialect } from './migrations.js';
import type { Database } from './schema.js';

/**
 * The `lead_time` SLO's ledger (docs/slo.md): which version's trace each build and each output
 * event belongs to, and when a version's trace was done.
 * - `builds.trace_root`: the id of the event that announced the version whose downstream the
 *   build is (its cause's event; an output event's own root; a retry's first attempt's root);
 * - `events.trace_root`: for an output event, the root of the build that produced it;
 * - `events.trace_done_at`: on a root event, when the last build of its trace ended or the last
 *   output event of it was decided — set once the store sees nothing of the trace open.
 * Builds and events written before this migration belong to no trace (the SLO counts versions
 * announced after the upgrade). The indexes answer "is anything of trace R still open?".
 */
export async function traceRoots(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema.alterTable('builds').addColumn('trace_root', d.bigint).execute();
  await db.schema.alterTable('events').addColumn('trace_root', d.bigint).execute();
  await db.schema.alterTable('events').addColumn('trace_done_at', d.bigint).execute();
  await db.schema
    .createIndex('builds_trace_root')
    .on('builds')
    .columns(['trace_root', 'state'])
    .execute();
  await db.schema.createIndex('events_trace_root').on('events').column('trace_root').execute();
}
