import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * `builds_fingerprint` goes: no query asks the store for builds by fingerprint (the scheduler
 * holds the built fingerprints in memory, loaded once at start), yet every new build entered it,
 * one random page of every decision's commit (1.1 of ~31 WAL pages per event,
 * `bench/ingest/wal-pages.mts`).
 */
export async function unreadFingerprintIndex(db: Kysely<Database>): Promise<void> {
  await db.schema.dropIndex('builds_fingerprint').ifExists().execute();
}
