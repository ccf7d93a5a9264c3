import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  openPostgresTestStore,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';

const PG = await postgresAvailable('the migration-beside-dropped-schemas test');

/**
 * Other stores share the database and come and go (tenants, parallel test files). Kysely's own
 * introspector looked at every table of every schema and failed with "schema does not exist" when
 * one was dropped meanwhile, so a store's start failed because of a neighbour.
 */
describe.skipIf(!PG)('opening a PostgreSQL store while other schemas are dropped', () => {
  it('migrates its own schema regardless of its neighbours', async () => {
    const churn = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
    await churn.connect();
    let stop = false;
    const neighbour = async () => {
      // Bounded: at most 400 create/drop rounds, and it stops when the stores are open.
      for (let i = 0; i < 400 && !stop; i++) {
        const s = uniqueSchema();
        await churn.query(`create schema ${s}`);
        await churn.query(
          `create table ${s}.a (id serial primary key, x int, y int, z text);
           create table ${s}.b (id serial primary key, x int, y int, z text)`,
        );
        await churn.query(`drop schema ${s} cascade`);
      }
    };
    const churning = neighbour();
    try {
      for (let i = 0; i < 6; i++) {
        const opened = await openPostgresTestStore();
        await opened.dispose();
      }
    } finally {
      stop = true;
      await churning.catch(() => undefined);
      await churn.end();
    }
    expect(stop).toBe(true);
  }, 60_000);
});
