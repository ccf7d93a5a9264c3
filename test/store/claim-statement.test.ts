import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { claimStatement } from '../../src/store/sql/claim-next-build.js';
import { SQLITE_DIALECT } from '../../src/store/sql/connection.js';

/** Kysely compiling for a backend without connecting to one (no PostgreSQL driver needed). */
function compilerFor(kind: 'postgres' | 'sqlite'): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => (kind === 'postgres' ? new PostgresAdapter() : new SqliteAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) =>
        kind === 'postgres' ? new PostgresIntrospector(db) : new SqliteIntrospector(db),
      createQueryCompiler: () =>
        kind === 'postgres' ? new PostgresQueryCompiler() : new SqliteQueryCompiler(),
    },
  });
}

describe('store: the claim statement on each backend', () => {
  it('is one UPDATE … RETURNING whose inner select locks FOR UPDATE SKIP LOCKED on PostgreSQL', () => {
    const { sql } = claimStatement(
      compilerFor('postgres'),
      { supportsSkipLocked: true },
      'w1',
      1000,
    ).compile();
    expect(sql).toMatch(/^update "builds" set .* where "state" = \$\d+ and "id" = \(select/);
    // The lock belongs to the select that picks the row, so concurrent claimers pass each other.
    expect(sql).toMatch(/order by "q"\."id" limit \$\d+ for update skip locked\) returning "id"$/);
  });

  it('takes no lock clause on SQLite, where the one writer orders the claimers', () => {
    const { sql } = claimStatement(compilerFor('sqlite'), SQLITE_DIALECT, 'w1', 1000).compile();
    expect(sql).toMatch(/^update "builds" set .* where "state" = \? and "id" = \(select/);
    expect(sql).not.toMatch(/for update|skip locked/i);
    expect(sql).toMatch(/returning "id"$/);
  });
});
