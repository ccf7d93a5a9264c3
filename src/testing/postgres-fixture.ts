import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore, quoteIdent } from '../store/postgres/open-postgres-store.js';
import type { Store } from '../store/ports.js';
import { INSTALLATION_ID_KEY } from '../store/installation-id.js';

/** The test database (trust auth); `NIGHTLESS_TEST_PG_URL` points the tests elsewhere. */
export const TEST_PG_URL =
  process.env.NIGHTLESS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether the test PostgreSQL answers (one connection attempt, 2 s connect timeout). When it does
 * not: under `CI=true` this throws, so CI never passes by skipping; otherwise it warns loudly and
 * returns false, and the caller skips its PostgreSQL tests.
 */
export async function postgresAvailable(what: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: TEST_PG_URL,
    connectionTimeoutMillis: 2000,
    query_timeout: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message || err.name : String(err);
    if (process.env.CI === 'true')
      throw new Error(`PostgreSQL is not reachable at ${TEST_PG_URL} (${why}): ${what} need it`);
    console.warn(`\n*** SKIPPING ${what} on PostgreSQL: ${TEST_PG_URL} unreachable (${why}) ***\n`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh schema name per store, so parallel test files never see each other's rows. */
export function uniqueSchema(): string {
  return `nl_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export interface PostgresTestStore {
  readonly store: Store;
  readonly schema: string;
  /** Closes the store and drops its schema. Safe to call twice. */
  dispose(): Promise<void>;
}

/** A migrated store in a schema of its own, dropped again by `dispose`. */
export async function openPostgresTestStore(
  opts: { schema?: string; maxConnections?: number } = {},
): Promise<PostgresTestStore> {
  const schema = opts.schema ?? uniqueSchema();
  const store = await openPostgresStore({
    url: TEST_PG_URL,
    schema,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 30_000,
    ...(opts.maxConnections ? { maxConnections: opts.maxConnections } : {}),
  });
  let disposed = false;
  return {
    store,
    schema,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await store.close();
      await dropSchema(schema);
    },
  };
}

/**
 * Like {@link openPostgresTestStore}, but `dispose` empties the schema (every table truncated, ids
 * restarted, only the installation id kept — as a freshly migrated store) and keeps it for the
 * next call in this process instead of dropping it: creating and migrating a schema costs ~0.5 s,
 * emptying one a few ms. Call {@link dropSpareSchemas} in `afterAll`.
 */
export async function openRecycledPostgresStore(): Promise<PostgresTestStore> {
  const schema = spare.pop();
  const opened = await openPostgresTestStore(schema ? { schema } : {});
  return {
    ...opened,
    async dispose() {
      await opened.store.close();
      try {
        await emptySchema(opened.schema);
        spare.push(opened.schema);
      } catch {
        await dropSchema(opened.schema);
      }
    },
  };
}

const spare: string[] = [];

/** Drops the schemas {@link openRecycledPostgresStore} kept. */
export async function dropSpareSchemas(): Promise<void> {
  for (const schema of spare.splice(0)) await dropSchema(schema);
}

async function emptySchema(schema: string): Promise<void> {
  await withClient(async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `select tablename as name from pg_tables
        where schemaname = $1 and tablename not like 'kysely%' and tablename <> 'meta'`,
      [schema],
    );
    const tables = rows.map((r) => `${quoteIdent(schema)}.${quoteIdent(r.name)}`).join(', ');
    await client.query(`truncate table ${tables} restart identity cascade`);
    await client.query(`delete from ${quoteIdent(schema)}.meta where key <> $1`, [
      INSTALLATION_ID_KEY,
    ]);
  });
}

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`drop schema if exists ${quoteIdent(schema)} cascade`));
}
