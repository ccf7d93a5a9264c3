import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * `builds.supersede`: the job's `supersede:` when the build was queued (1 or 0). A lost build
 * (lease expired, server restarted) is re-queued unless a newer build of its group replaces it —
 * which only a job with `supersede: true` allows; with `supersede: false` every version must
 * build. The sweep that loses it has no pipeline, so the row says. Rows queued before this
 * migration keep the old behaviour (1, the default of `supersede:`).
 */
export async function lostBuildSupersede(db: Kysely<Database>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('supersede', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
