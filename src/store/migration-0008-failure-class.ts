import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * `builds.failure_class` (`core/failure-class.ts`): whose failure a build that did not pass is.
 * Rows that ended before this migration get the class their state and reason imply — the same
 * rule as `failureClassOfStored`, written as SQL so a large history is filled in one statement.
 * The index serves the SLO counters' start-up load of recent endings (`finished_at` ranges).
 */
export async function failureClassMigration(db: Kysely<Database>): Promise<void> {
  await db.schema.alterTable('builds').addColumn('failure_class', 'text').execute();
  await db
    .updateTable('builds')
    .set({
      failure_class: sql<string | null>`case
        when state = 'failed' and reason like '%was killed by SIGKILL%' then 'infrastructure'
        when state = 'failed' then 'user'
        when state = 'error' and (reason like 'timeout%' or reason like 'step-timeout%'
          or reason like 'no-output-timeout%') then 'timeout'
        when state = 'error' and reason like 'network%' then 'network'
        when state = 'error' and reason like 'outputs%' then 'user'
        when state = 'error' then 'infrastructure'
        when state = 'cancelled' then 'cancelled'
        when state = 'superseded' then 'superseded'
        else null end`,
    })
    .execute();
  await db.schema.createIndex('builds_finished_at').on('builds').column('finished_at').execute();
}
