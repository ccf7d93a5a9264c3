import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/ports.js';
import { parseDatabaseUrl, redactDatabaseUrl } from '../store/postgres/database-url.js';
import { openPostgresStore } from '../store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';

export { parseDatabaseUrl, redactDatabaseUrl };

/**
 * The store `serve` runs on: PostgreSQL when a database URL is given (`--database` or
 * `NIGHTLESS_DATABASE_URL`), else the embedded SQLite file in the data directory. Either way the
 * data directory keeps logs, artifacts, workspaces and the token file.
 */
export function openStore(opts: {
  readonly dataDir: string;
  readonly database?: string | undefined;
  readonly logger: Logger;
}): Promise<Store> {
  if (!opts.database) return openSqliteStore({ path: resolve(opts.dataDir, 'nightless.db') });
  const where = redactDatabaseUrl(opts.database);
  opts.logger.info({ database: where }, 'opening the PostgreSQL store');
  return openPostgresStore({
    url: opts.database,
    // The pool replaces a dropped connection on the next query; this only says why it dropped.
    onIdleError: (err) =>
      opts.logger.warn({ database: where, error: err.message }, 'PostgreSQL connection lost'),
  });
}
