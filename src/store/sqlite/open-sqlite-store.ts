import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  SqliteDialect,
  type QueryResult,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { migrations, SQLITE_DDL } from '../migrations.js';
import type { Database } from '../schema.js';
import type { Store } from '../ports.js';
import { SQLITE_DIALECT } from '../sql/connection.js';
import { createSqlStore } from '../sql/sql-store.js';
import { limitSlots, withLiteralLimits } from './literal-limits.js';
import { WalCheckpointer } from './wal-checkpointer.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for tests. */
  readonly path: string;
  /** How long a writer waits for a lock held by another connection before failing. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the embedded store: WAL journal, foreign keys on, a busy timeout,
 * and migrations applied before the first query.
 */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const raw = new BetterSqlite3(opts.path);
  raw.pragma('journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode; only a power loss may drop the
  // last transactions, which the inbox's at-least-once sources redeliver.
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  // Checkpoints run in a worker (WalCheckpointer), not inside commits on this thread.
  const checkpointer = opts.path === ':memory:' ? null : new WalCheckpointer(opts.path);
  // The automatic one stays as a backstop (at ~400 MB of WAL) should the worker ever stall.
  raw.pragma(`wal_autocheckpoint = ${checkpointer ? 100_000 : 1000}`);
  raw.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  const statements = withStatementCache(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  // The checkpointer's descriptor may close only after the connection (WalCheckpointer.release).
  const close = async (): Promise<void> => {
    await checkpointer?.stop();
    await db.destroy();
    checkpointer?.release();
  };
  const result = await new Migrator({
    db,
    provider: migrations(SQLITE_DDL),
    // 0010 (agents) was merged after 0011 had shipped; migrations are independent additions,
    // so a database at 0011 takes 0010 late rather than refusing to start.
    allowUnorderedMigrations: true,
  }).migrateToLatest();
  if (result.error) {
    await close();
    const cause =
      result.error instanceof Error ? result.error.message : JSON.stringify(result.error);
    throw new Error(`migrating ${opts.path} failed: ${cause}`, { cause: result.error });
  }
  // What Kysely's SQLite connection does for a query, without its executor around it.
  const runNow = (sqlText: string, parameters: readonly unknown[]): QueryResult<unknown> => {
    const stmt = statements.prepare(sqlText);
    if (stmt.reader) return { rows: stmt.all(parameters) };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  };
  return createSqlStore(db, { ...SQLITE_DIALECT, runNow }, close);
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements are reusable, and preparing costs
 * more than running a small insert. Cache them by SQL text (bounded: queries are generated from a
 * fixed set of call sites, but `in (...)` lists vary in length). A statement with a bound `LIMIT`
 * runs with the limit written in (`literal-limits.ts`): SQLite re-plans it at every bind otherwise.
 */
function withStatementCache(raw: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  const prepare = (sqlText: string): SqliteStatement => {
    let stmt = cache.get(sqlText);
    if (!stmt) {
      stmt = raw.prepare(sqlText);
      const slots = limitSlots(sqlText);
      if (slots.length > 0) stmt = withLiteralLimits(stmt, sqlText, slots, prepare);
      if (cache.size >= 2000) cache.clear();
      cache.set(sqlText, stmt);
    }
    return stmt;
  };
  return { close: () => raw.close(), prepare };
}
