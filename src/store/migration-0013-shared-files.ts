import type { Kysely } from 'kysely';
import type { DdlDialect } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Build logs and content-addressed blobs kept in the database, so every replica of a PostgreSQL
 * installation can serve what any one of them wrote (docs/deploy.md, "Logs and artifacts"):
 * - `log_chunks`: a build's log bytes by byte offset (idempotent on `(build_id, byte_offset)`);
 * - `blob_chunks`: a blob's bytes in numbered chunks, so no blob is ever one huge value;
 * - `blobs`: one row per complete blob, written after its last chunk — a reader trusts only
 *   blobs that have it.
 * Created on SQLite too (one schema for both); the embedded server leaves them empty.
 */
export async function sharedFiles(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema
    .createTable('log_chunks')
    .addColumn('build_id', d.bigint, (c) => c.notNull())
    .addColumn('byte_offset', d.bigint, (c) => c.notNull())
    .addColumn('length', d.bigint, (c) => c.notNull())
    .addColumn('bytes', d.bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('log_chunks_pk', ['build_id', 'byte_offset'])
    .execute();
  await db.schema
    .createTable('blobs')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('size', d.bigint, (c) => c.notNull())
    .addColumn('chunks', 'integer', (c) => c.notNull())
    .addColumn('stored_at', d.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('blob_chunks')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('bytes', d.bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pk', ['digest', 'seq'])
    .execute();
}
