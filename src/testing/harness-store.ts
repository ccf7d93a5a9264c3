import { join } from 'node:path';
import type { Store } from '../store/ports.js';
import { openPostgresStore } from '../store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import { dropSchema, TEST_PG_URL, uniqueSchema } from './postgres-fixture.js';

/** Where a harness keeps its state; `open` again after a close sees the same state (restarts). */
export interface HarnessStore {
  readonly backend: 'sqlite' | 'postgres';
  open(): Promise<Store>;
  /** Removes the state (the SQLite file goes with the harness directory). */
  dispose(): Promise<void>;
}

/**
 * The harness's store: a SQLite file in `dir`, or with `NIGHTLESS_TEST_STORE=postgres` a schema of
 * its own on the test PostgreSQL (`NIGHTLESS_TEST_PG_URL`), so the scheduler/engine suites run
 * unchanged on either backend.
 */
export function harnessStore(dir: string): HarnessStore {
  const wanted = process.env.NIGHTLESS_TEST_STORE ?? 'sqlite';
  if (wanted === 'sqlite')
    return {
      backend: 'sqlite',
      open: () => openSqliteStore({ path: join(dir, 'state.db') }),
      dispose: () => Promise.resolve(),
    };
  if (wanted !== 'postgres')
    throw new Error(`NIGHTLESS_TEST_STORE must be sqlite or postgres, got ${wanted}`);
  const schema = uniqueSchema();
  return {
    backend: 'postgres',
    open: () => openPostgresStore({ url: TEST_PG_URL, schema }),
    dispose: () => dropSchema(schema),
  };
}
