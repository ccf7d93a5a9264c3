import { randomBytes } from 'node:crypto';
import {
  sql,
  type ColumnDefinitionBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
} from 'kysely';
import { INSTALLATION_ID_KEY } from './installation-id.js';
import { changeRequestTables } from './sql/change-request-store.js';
import { failureClassMigration } from './migration-0008-failure-class.js';
import { agentsAndLeases } from './migration-0010-agents.js';
import { retryNotBefore } from './migration-0011-retry-not-before.js';
import { traceRoots } from './migration-0012-trace-roots.js';
import { sharedFiles } from './migration-0013-shared-files.js';
import { lostBuildSupersede } from './migration-0014-lost-build-supersede.js';
import { fewerPagesPerEvent } from './migration-0015-fewer-pages-per-event.js';
import { unreadFingerprintIndex } from './migration-0016-unread-fingerprint-index.js';
import type { Database } from './schema.js';

/** What differs between SQL backends in DDL, as capability values rather than `if (pg)`. */
export interface DdlDialect {
  /** Column type of an auto-increment primary key (`integer` in SQLite, `bigserial` in PostgreSQL). */
  readonly serialType: 'integer' | 'bigserial';
  /**
   * The key needs the `autoincrement` keyword (SQLite: ids are never reused, even after the newest
   * row is deleted). A PostgreSQL `bigserial` is its own sequence and rejects the keyword.
   */
  readonly autoIncrement: boolean;
  /** Millisecond timestamps and ids: 64-bit in both (`integer` is 64-bit in SQLite). */
  readonly bigint: 'integer' | 'bigint';
  /** A 64-bit float (`real` is 64-bit in SQLite but 32-bit in PostgreSQL). */
  readonly double: 'real' | 'double precision';
  /** Raw bytes (`blob` in SQLite, `bytea` in PostgreSQL); both drivers read them as a Buffer. */
  readonly bytes: 'blob' | 'bytea';
}

export const SQLITE_DDL: DdlDialect = {
  serialType: 'integer',
  autoIncrement: true,
  bigint: 'integer',
  double: 'real',
  bytes: 'blob',
};

export const POSTGRES_DDL: DdlDialect = {
  serialType: 'bigserial',
  autoIncrement: false,
  bigint: 'bigint',
  double: 'double precision',
  bytes: 'bytea',
};

/** The auto-increment primary key column, as each backend spells it. */
export function serialKey(d: DdlDialect) {
  return (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    d.autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey();
}

/**
 * Versioned, append-only migrations, applied at start. Never edit a released one: add the next.
 */
export function migrations(d: DdlDialect): MigrationProvider {
  const all: Record<string, Migration> = {
    '0001-initial': { up: (db) => initial(db as Kysely<Database>, d) },
    '0002-deliveries': { up: (db) => deliveries(db as Kysely<Database>, d) },
    '0003-installation-id': { up: (db) => installationId(db as Kysely<Database>) },
    '0004-access': { up: (db) => access(db as Kysely<Database>, d) },
    '0005-concurrency-groups': { up: (db) => concurrencyGroups(db as Kysely<Database>) },
    '0006-retention-indexes': { up: (db) => retentionIndexes(db as Kysely<Database>) },
    '0008-failure-class': { up: (db) => failureClassMigration(db as Kysely<Database>) },
    '0009-change-requests': { up: (db) => changeRequestTables(db, d) },
    '0010-agents': { up: (db) => agentsAndLeases(db as Kysely<Database>, d) },
    '0011-retry-not-before': { up: (db) => retryNotBefore(db as Kysely<Database>, d) },
    '0012-trace-roots': { up: (db) => traceRoots(db as Kysely<Database>, d) },
    '0013-shared-files': { up: (db) => sharedFiles(db as Kysely<Database>, d) },
    '0014-lost-build-supersede': { up: (db) => lostBuildSupersede(db as Kysely<Database>) },
    '0015-fewer-pages-per-event': { up: (db) => fewerPagesPerEvent(db as Kysely<Database>) },
    '0016-unread-fingerprint-index': {
      up: (db) => unreadFingerprintIndex(db as Kysely<Database>),
    },
  };
  return { getMigrations: () => Promise.resolve(all) };
}

async function initial(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sources')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('next_check_at', d.bigint)
    .addColumn('last_check_at', d.bigint)
    .addColumn('last_check_ok', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('poll_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('missed_events', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('events_received', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_event_at', d.bigint)
    .execute();
  await db.schema
    .createTable('events')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('version', 'text')
    .addColumn('ref', 'text')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'text', (c) => c.unique())
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('received_at', d.bigint, (c) => c.notNull())
    .addColumn('processed_at', d.bigint)
    .addColumn('outcome', 'text')
    .execute();
  await db.schema
    .createIndex('events_unprocessed')
    .on('events')
    .columns(['processed_at', 'id'])
    .execute();
  await db.schema
    .createIndex('events_source')
    .on('events')
    .columns(['source', 'version'])
    .execute();
  await db.schema
    .createTable('versions')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('event_id', d.bigint)
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('produced_by', d.bigint)
    .addColumn('created_at', d.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('versions_source_version')
    .on('versions')
    .columns(['source', 'version'])
    .execute();
  await db.schema
    .createTable('heads')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('version_id', d.bigint, (c) => c.notNull().references('versions.id'))
    .addPrimaryKeyConstraint('heads_pk', ['source', 'ref'])
    .execute();
  await db.schema
    .createTable('jobs')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('definition_hash', 'text', (c) => c.notNull())
    .addColumn('updated_at', d.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('builds')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('definition_hash', 'text', (c) => c.notNull())
    .addColumn('cause', 'text', (c) => c.notNull())
    .addColumn('forced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('ref', 'text')
    .addColumn('queued_at', d.bigint, (c) => c.notNull())
    .addColumn('started_at', d.bigint)
    .addColumn('finished_at', d.bigint)
    .addColumn('failed_step', 'text')
    .addColumn('reason', 'text')
    .addColumn('related_build', d.bigint)
    .addColumn('exit_code', 'integer')
    .addColumn('coverage_lines', d.double)
    .addColumn('coverage_branches', d.double)
    .addColumn('coverage_lines_delta', d.double)
    .addColumn('coverage_branches_delta', d.double)
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('worker', 'text')
    .addColumn('warnings', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('log_bytes', d.bigint, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('builds_job').on('builds').columns(['job', 'id']).execute();
  await db.schema.createIndex('builds_state').on('builds').columns(['state', 'id']).execute();
  await db.schema.createIndex('builds_fingerprint').on('builds').columns(['fingerprint']).execute();
  await db.schema
    .createTable('build_inputs')
    .addColumn('build_id', d.bigint, (c) => c.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('ref', 'text')
    .addColumn('origin', 'text')
    .addColumn('event_id', d.bigint)
    .addPrimaryKeyConstraint('build_inputs_pk', ['build_id', 'position'])
    .execute();
  await db.schema
    .createIndex('build_inputs_version')
    .on('build_inputs')
    .columns(['source', 'version'])
    .execute();
  await db.schema
    .createTable('build_outputs')
    .addColumn('build_id', d.bigint, (c) => c.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('build_outputs_pk', ['build_id', 'name'])
    .execute();
  await db.schema
    .createTable('artifacts')
    .addColumn('build_id', d.bigint, (c) => c.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('output', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('size', d.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('artifacts_pk', ['build_id', 'output', 'path'])
    .execute();
  await db.schema.createIndex('artifacts_digest').on('artifacts').columns(['digest']).execute();
  await db.schema
    .createTable('decisions')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('event_id', d.bigint)
    .addColumn('job', 'text')
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('version', 'text')
    .addColumn('build_id', d.bigint)
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', d.bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('decisions_job').on('decisions').columns(['job', 'id']).execute();
  await db.schema
    .createIndex('decisions_version')
    .on('decisions')
    .columns(['source', 'version'])
    .execute();
  await db.schema
    .createTable('pending_settles')
    .addColumn('job', 'text', (c) => c.primaryKey())
    .addColumn('due_at', d.bigint, (c) => c.notNull())
    .addColumn('event_id', d.bigint)
    .execute();
  await db.schema
    .createTable('outbox')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('build_id', d.bigint, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', d.bigint, (c) => c.notNull())
    .execute();
}

/** Report delivery state: a cursor per report target and one row per HTTP delivery (reporters/). */
async function deliveries(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema
    .createTable('report_cursors')
    .addColumn('target', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('last_outbox_id', d.bigint, (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('updated_at', d.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('deliveries')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('outbox_id', d.bigint, (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', d.bigint)
    .addColumn('last_error', 'text')
    .addColumn('created_at', d.bigint, (c) => c.notNull())
    .addColumn('delivered_at', d.bigint)
    .addUniqueConstraint('deliveries_outbox_target', ['outbox_id', 'target'])
    .execute();
  await db.schema
    .createIndex('deliveries_state')
    .on('deliveries')
    .columns(['state', 'target', 'id'])
    .execute();
}

/**
 * A random id for the installation (`installation-id.ts`): 16 hex digits, made here once so that
 * every server sharing the database reads the same one. Kept if already present.
 */
async function installationId(db: Kysely<Database>): Promise<void> {
  await db
    .insertInto('meta')
    .values({ key: INSTALLATION_ID_KEY, value: randomBytes(8).toString('hex') })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}

/** Scoped API tokens (hashes only) and the audit trail of operator actions (docs/security.md). */
async function access(db: Kysely<Database>, d: DdlDialect): Promise<void> {
  await db.schema
    .createTable('api_tokens')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('sha256', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', d.bigint, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', d.bigint)
    .addColumn('last_used_at', d.bigint)
    .addColumn('revoked_at', d.bigint)
    .execute();
  await db.schema
    .createTable('audit_log')
    .addColumn('id', d.serialType, serialKey(d))
    .addColumn('at', d.bigint, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
}

/**
 * Per-job concurrency (`concurrency:`): each build carries its group (job + primary branch) and
 * the limit it was queued under, so the claim is one statement that needs no pipeline. Builds
 * from before this migration get the same group rule from their `ref` column and the default 1.
 */
async function concurrencyGroups(db: Kysely<Database>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('concurrency_group', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema
    .alterTable('builds')
    .addColumn('concurrency_limit', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db
    .updateTable('builds')
    .set((eb) => ({
      concurrency_group: eb
        .case()
        .when('ref', 'is', null)
        .then(eb.ref('job'))
        .else(sql<string>`job || '@' || ref`)
        .end(),
    }))
    .execute();
  await db.schema
    .createIndex('builds_concurrency_group')
    .on('builds')
    .columns(['concurrency_group', 'state', 'id'])
    .execute();
}

/**
 * Retention asks "does any remaining row name this one?" for every row it examines; without
 * these indexes each question is a table scan (store/sql/history-retention.ts).
 */
async function retentionIndexes(db: Kysely<Database>): Promise<void> {
  const indexes: Array<[string, keyof Database, string]> = [
    ['build_inputs_event', 'build_inputs', 'event_id'],
    ['decisions_event', 'decisions', 'event_id'],
    ['decisions_build', 'decisions', 'build_id'],
    ['versions_event', 'versions', 'event_id'],
    ['versions_produced_by', 'versions', 'produced_by'],
    ['outbox_build', 'outbox', 'build_id'],
  ];
  for (const [name, table, column] of indexes)
    await db.schema.createIndex(name).on(table).column(column).execute();
}
