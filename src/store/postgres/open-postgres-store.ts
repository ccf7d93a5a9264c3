import pg from 'pg';
import { Kysely } from 'kysely';
import type { Store } from '../ports.js';
import type { Database } from '../schema.js';
import type { Dialect } from '../sql/connection.js';
import { createSqlStore } from '../sql/sql-store.js';
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.js';
import { migrateUnderLock, quoteIdent } from './migrate-under-lock.js';
import { UnavailableMappingDialect } from './connection-loss.js';
import { PgPipelinedTransactions } from './pipelined-transactions.js';

export { quoteIdent };
import { storeTypes } from './pg-types.js';

export const POSTGRES_DIALECT: Dialect = {
  supportsSkipLocked: true,
  outboxIdsNeedLock: true,
  supportsRowLocks: true,
  sequences: true,
};

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host:port/database` (query parameters as node-postgres reads them). */
  readonly url: string;
  /**
   * Schema the store's tables live in (created if missing); default: the role's `search_path`.
   * Tests give each store its own; a deployment normally leaves it out.
   */
  readonly schema?: string;
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number;
  /** How long opening a connection may take before it fails (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Server-side bound on every statement (default 30 s); a stuck query fails instead of hanging. */
  readonly statementTimeoutMs?: number;
  /**
   * Send the decision writer's statements pipelined (default true): a scheduled event then waits
   * for the server twice instead of once per statement. `false` sends them one at a time, as
   * every other query is sent (the bench's same-run baseline; a proxy that cannot pipeline).
   */
  readonly pipelining?: boolean;
  /** Errors of idle pooled connections (the server restarted, the network dropped them). */
  readonly onIdleError?: (err: Error) => void;
}

/** The connection settings the pool and the migration lock's own connection share. */
export function clientConfig(opts: PostgresStoreOptions): pg.ClientConfig {
  parseDatabaseUrl(opts.url);
  const statementTimeout = opts.statementTimeoutMs ?? 30_000;
  return {
    connectionString: opts.url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    statement_timeout: statementTimeout,
    // A client-side bound as well: a server that stops answering (network split) never would.
    query_timeout: statementTimeout + 5000,
    lock_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout * 2,
    keepAlive: true,
    types: storeTypes,
    ...(opts.schema ? { options: `-c search_path=${quoteIdent(opts.schema)}` } : {}),
  };
}

/**
 * Opens the PostgreSQL store: a pool with connect and statement timeouts, the schema migrated to
 * the latest version under an advisory lock (see {@link migrateUnderLock}) before the first query,
 * so several servers starting together migrate once. Rejects, with the URL's password redacted,
 * when the server cannot be reached or a migration fails.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const config = clientConfig(opts);
  const where = redactDatabaseUrl(opts.url);
  const pool = new pg.Pool({ ...config, max: opts.maxConnections ?? 10 });
  // Without a listener an idle connection's error (server restart) would crash the process; the
  // pool drops that connection and the next query opens a fresh one.
  pool.on('error', (err) => opts.onIdleError?.(err));
  // The pool listens only while a connection is idle. One checked out between two statements (a
  // transaction waiting on its caller) that the server drops would emit an unhandled 'error' and
  // crash the process; the error reaches the caller at its next statement instead, and the pool
  // discards the connection when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new UnavailableMappingDialect({ pool }, where) });
  // The decision writer's transactions (one scheduler per installation: two connections are
  // plenty), on clients that pipeline; opened lazily, so a store that never decides opens none.
  const pipelining =
    opts.pipelining === false ? null : new pg.Pool({ ...config, max: 2, pipeline: true });
  pipelining?.on('error', (err) => opts.onIdleError?.(err));
  pipelining?.on('connect', (client) => client.on('error', () => undefined));
  const close = async () => {
    await Promise.all([db.destroy(), pipelining?.end()]);
  };
  try {
    await migrateUnderLock(db, config, where, opts.schema);
  } catch (err) {
    await close();
    throw err;
  }
  const dialect: Dialect = pipelining
    ? { ...POSTGRES_DIALECT, pipelined: new PgPipelinedTransactions(pipelining, where) }
    : POSTGRES_DIALECT;
  return createSqlStore(db, dialect, close);
}
