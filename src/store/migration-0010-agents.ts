import type { Kysely } from 'kysely';
import type { DdlDialect } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Build agents (`nightless agent`): `builds.lease_expires_at` (a claimed build is leased to its
 * agent until then; null for local slots) and the `agents` table that `GET /api/agents` reads.
 * Added after 0011 was released, so the migrators allow it to run after 0011 on such a database.
 */
export async function agentsAndLeases(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema.alterTable('builds').addColumn('lease_expires_at', d.bigint).execute();
  await db.schema
    .createIndex('builds_lease')
    .on('builds')
    .columns(['state', 'lease_expires_at'])
    .execute();
  await db.schema
    .createTable('agents')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('slots', 'integer', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', d.bigint, (c) => c.notNull())
    .addColumn('last_heartbeat_at', d.bigint, (c) => c.notNull())
    .execute();
}
