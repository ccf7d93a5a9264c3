import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { INSTALLATION_ID_KEY } from '../store/installation-id.js';
import { redactDatabaseUrl } from '../store/postgres/database-url.js';
import {
  clientConfig,
  openPostgresStore,
  quoteIdent,
} from '../store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import { lockDataDir } from './data-dir-lock.js';
import { copyFilesToDatabase } from './migrate-files.js';

export interface MigrateStoreOptions {
  /** A data directory (its `nightless.db`) or the SQLite file itself. */
  readonly from: string;
  /** PostgreSQL URL of the target; it must hold no nightless rows yet. */
  readonly to: string;
}

export interface MigrateStoreReport {
  /** Rows copied per table, in copy order. */
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number }>;
  /** Build logs and artifact blobs of the data directory copied into the database. */
  readonly files: { readonly logs: number; readonly blobs: number };
}

/** The target already holds data: copying would mix two histories. */
export class TargetNotEmptyError extends Error {}

/**
 * Copies every table of an embedded store into PostgreSQL: ids kept as they are (build #42 stays
 * #42, links and CloudEvents ids keep working), each id sequence moved past the largest copied
 * id, the installation id carried over. Both sides are first migrated to the same latest
 * version. The copy is one PostgreSQL transaction: it lands whole or not at all. The data
 * directory's lock is held throughout, so no server writes the file while it is read; a target
 * with any row refuses the copy ({@link TargetNotEmptyError}).
 */
export async function migrateStore(opts: MigrateStoreOptions): Promise<MigrateStoreReport> {
  const from = resolve(opts.from);
  const isDir = statSync(from, { throwIfNoEntry: false })?.isDirectory();
  if (isDir === undefined) throw new Error(`--from ${opts.from}: no such file or directory`);
  const file = isDir ? join(from, 'nightless.db') : from;
  if (!statSync(file, { throwIfNoEntry: false })?.isFile())
    throw new Error(`--from ${opts.from}: no nightless.db in it`);
  const lock = await lockDataDir(isDir ? from : resolve(from, '..'));
  try {
    // Opening migrates each side to the latest version, so both have the same tables.
    await (await openSqliteStore({ path: file })).close();
    await (await openPostgresStore({ url: opts.to })).close();
    const source = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    let tables: MigrateStoreReport['tables'];
    try {
      tables = await copyInto(source, opts.to);
    } finally {
      source.close();
    }
    // After the rows: a copy that fails here is finished by running the server (its files stay).
    const target = await openPostgresStore({ url: opts.to });
    try {
      const dataDir = isDir ? from : resolve(from, '..');
      return { tables, files: await copyFilesToDatabase(dataDir, target) };
    } finally {
      await target.close();
    }
  } finally {
    await lock.release();
  }
}

async function copyInto(
  source: BetterSqlite3.Database,
  url: string,
): Promise<MigrateStoreReport['tables']> {
  // Creation order: a table is created after the tables its foreign keys name.
  const tables = (
    source
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'kysely%' ORDER BY rowid`,
      )
      .all() as Array<{ name: string }>
  ).map((t) => t.name);
  const target = new pg.Client(clientConfig({ url }));
  try {
    await target.connect();
  } catch (err) {
    throw new Error(`connecting to ${redactDatabaseUrl(url)} failed: ${(err as Error).message}`);
  }
  try {
    await target.query('begin');
    await refuseNonEmpty(target, tables, redactDatabaseUrl(url));
    const report: Array<{ table: string; rows: number }> = [];
    for (const table of tables)
      report.push({ table, rows: await copyTable(source, target, table) });
    for (const table of tables) await resetSequence(target, table);
    await target.query('commit');
    return report;
  } catch (err) {
    await target.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await target.end().catch(() => undefined);
  }
}

async function refuseNonEmpty(target: pg.Client, tables: readonly string[], where: string) {
  for (const table of tables) {
    const { rows } = await target.query<{ n: number }>(
      table === 'meta'
        ? `select count(*) as n from meta where key <> $1`
        : `select count(*) as n from ${quoteIdent(table)}`,
      table === 'meta' ? [INSTALLATION_ID_KEY] : [],
    );
    const n = rows[0]?.n ?? 0;
    if (n > 0)
      throw new TargetNotEmptyError(
        `${where} is not empty (table ${table} has ${n} row${n === 1 ? '' : 's'}): ` +
          'migrate-store copies into an empty database only',
      );
  }
}

/** Rows in batches of at most ~60,000 parameters (PostgreSQL allows 65,535 per statement). */
async function copyTable(source: BetterSqlite3.Database, target: pg.Client, table: string) {
  const columns = (
    source.prepare(`PRAGMA table_info(${quoteIdent(table)})`).all() as Array<{
      name: string;
    }>
  ).map((c) => c.name);
  const batch = Math.max(1, Math.min(1000, Math.floor(60_000 / columns.length)));
  const names = columns.map(quoteIdent).join(', ');
  // The installation id the target's migration made gives way to the source's.
  const conflict =
    table === 'meta' ? ' on conflict (key) do update set value = excluded.value' : '';
  let copied = 0;
  let rows: unknown[][] = [];
  const flush = async () => {
    if (rows.length === 0) return;
    const values = rows
      .map((_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(', ')})`)
      .join(', ');
    await target.query(
      `insert into ${quoteIdent(table)} (${names}) values ${values}${conflict}`,
      rows.flat(),
    );
    copied += rows.length;
    rows = [];
  };
  const read = source.prepare(`SELECT ${names} FROM ${quoteIdent(table)}`).raw(true);
  for (const row of read.iterate() as Iterable<unknown[]>) {
    rows.push(row);
    if (rows.length >= batch) await flush();
  }
  await flush();
  return copied;
}

/** The next id a sequence hands out comes after the largest copied one. */
async function resetSequence(target: pg.Client, table: string): Promise<void> {
  const { rows } = await target.query<{ seq: string | null }>(
    `select pg_get_serial_sequence($1, 'id') as seq
       from information_schema.columns
      where table_name = $2 and column_name = 'id' and table_schema = current_schema()`,
    [quoteIdent(table), table],
  );
  const seq = rows[0]?.seq;
  if (!seq) return;
  await target.query(
    `select setval($1, max(id)) from ${quoteIdent(table)} having max(id) is not null`,
    [seq],
  );
}
