import type { Kysely } from 'kysely';
import type { DdlDialect } from './migrations.js';
import type { Database } from './schema.js';

/**
 * `builds.not_before`: a retry is queued the moment its first attempt ends (one transaction), and
 * waits out its backoff in the queue rather than in a timer of the process — so a crash during the
 * backoff neither loses the retry nor leaves the first attempt without a reported ending.
 */
export async function retryNotBefore(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema.alterTable('builds').addColumn('not_before', d.bigint).execute();
}
