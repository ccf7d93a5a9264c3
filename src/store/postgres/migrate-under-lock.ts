import pg from 'pg';
import { Migrator, sql, type DatabaseIntrospector, type Kysely, type TableMetadata } from 'kysely';
import { migrations, POSTGRES_DDL } from '../migrations.js';
import type { Database } from '../schema.js';
import { errorMessage } from './database-url.js';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Migrates to the latest version while holding a session-level advisory lock on a connection of
 * its own. Two replicas starting together: the second waits on the lock, then finds nothing left
 * to do. (Kysely's migrator takes a transaction-scoped lock too, but only after creating its
 * bookkeeping tables, which two concurrent `create table if not exists` can still collide on.)
 * The lock is keyed by schema, so stores in different schemas of one database never wait on each
 * other, and released however the migration ends; the wait is bounded by `lock_timeout`.
 */
export async function migrateUnderLock(
  db: Kysely<Database>,
  config: pg.ClientConfig,
  where: string,
  /** Created if missing, under the lock (two `create schema if not exists` collide too). */
  ownSchema: string | undefined,
): Promise<void> {
  const { options: _searchPath, ...withoutSearchPath } = config;
  const lock = new pg.Client(withoutSearchPath);
  try {
    await lock.connect();
  } catch (err) {
    throw new Error(`connecting to ${where} failed: ${errorMessage(err)}`, { cause: err });
  }
  lock.on('error', () => undefined);
  try {
    const { rows } = await lock.query<{ schema: string | null }>(
      'select current_schema() as schema',
    );
    const schema = ownSchema ?? rows[0]?.schema;
    if (!schema) throw new Error('no schema: the search_path names none that exists');
    await lock.query(`select pg_advisory_lock(hashtext('nightless.migrations.' || $1))`, [schema]);
    if (ownSchema) await lock.query(`create schema if not exists ${quoteIdent(ownSchema)}`);
    const result = await new Migrator({
      db: withOwnSchemaIntrospection(db, schema),
      provider: migrations(POSTGRES_DDL),
      // 0010 (agents) was merged after 0011 had shipped; migrations are independent additions,
      // so a database at 0011 takes 0010 late rather than refusing to start.
      allowUnorderedMigrations: true,
      // Named, because Kysely otherwise takes a bookkeeping table in any schema for its own.
      migrationTableSchema: schema,
    }).migrateToLatest();
    if (result.error)
      throw result.error instanceof Error ? result.error : new Error(errorMessage(result.error));
  } catch (err) {
    throw new Error(`migrating ${where} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    // Ending the session releases the lock, even when the unlock itself cannot be sent.
    await lock.end().catch(() => undefined);
  }
}

/**
 * `db` whose introspection (all the migrator asks it: does the schema, do its bookkeeping tables
 * exist) looks at `schema` only. Kysely's own introspector lists the columns of every table in
 * every schema of the database, calling `pg_get_serial_sequence` per column; when another store
 * drops its schema meanwhile (a parallel test, a tenant removed) that call fails with "schema
 * does not exist" and this store's start with it.
 */
function withOwnSchemaIntrospection(db: Kysely<Database>, schema: string): Kysely<Database> {
  const introspection: DatabaseIntrospector = {
    getSchemas: async () => {
      const { rows } = await sql<{ name: string }>`select nspname as name
        from pg_catalog.pg_namespace where nspname = ${schema}`.execute(db);
      return rows;
    },
    getTables: async () => {
      const { rows } = await sql<{ name: string }>`select tablename as name
        from pg_catalog.pg_tables where schemaname = ${schema}`.execute(db);
      return rows.map((r): TableMetadata => ({ name: r.name, schema, isView: false, columns: [] }));
    },
    getMetadata: async () => ({ tables: await introspection.getTables() }),
  };
  // A proxy, not a copy: every other member must reach the real instance (private fields).
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'introspection') return introspection;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
