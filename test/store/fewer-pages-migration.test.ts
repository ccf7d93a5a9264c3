import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations, SQLITE_DDL } from '../../src/store/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const PARTIAL: Record<string, string> = {
  builds_lease: 'builds',
  builds_finished_at: 'builds',
  versions_produced_by: 'versions',
  events_trace_root: 'events',
  events_unprocessed: 'events',
};

let dir = '';
afterEach(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

/** A database file in a new `dir` with the migrations up to and including `last` applied. */
async function migratedTo(last: string): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'nightless-migration-'));
  const path = join(dir, 'db.sqlite');
  const before = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: new BetterSqlite3(path) }),
  });
  const result = await new Migrator({
    db: before,
    provider: migrations(SQLITE_DDL),
    allowUnorderedMigrations: true,
  }).migrateTo(last);
  await before.destroy();
  expect(result.error).toBeUndefined();
  return path;
}

/**
 * Migration 0015 on a database that ran 0014: the write-only `jobs` table goes and five indexes
 * leave out the rows every push writes, while the queries that need them still use them.
 */
describe('migration 0015-fewer-pages-per-event', () => {
  it('drops jobs, makes five indexes partial, and the queries that need them still use them', async () => {
    const path = await migratedTo('0014-lost-build-supersede');
    const old = new BetterSqlite3(path);
    old.prepare("insert into jobs (name, definition_hash, updated_at) values ('a', 'h', 1)").run();
    expect(
      old.prepare("select count(*) from sqlite_master where name = 'jobs'").pluck().get(),
    ).toBe(1);
    old.close();

    const store = await openSqliteStore({ path });
    await store.close();

    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      expect(raw.prepare("select name from sqlite_master where name = 'jobs'").all()).toEqual([]);
      for (const [index, table] of Object.entries(PARTIAL)) {
        const row = (
          raw.pragma(`index_list(${table})`) as Array<{ name: string; partial: number }>
        ).find((r) => r.name === index);
        expect(row, index).toMatchObject({ partial: 1 });
      }
      const plan = (q: string): string =>
        (raw.prepare(`explain query plan ${q}`).all() as Array<{ detail: string }>)
          .map((r) => r.detail)
          .join(' | ');
      expect(
        plan("select id from builds where state = 'running' and lease_expires_at < 5 order by id"),
      ).toContain('builds_lease');
      expect(plan('select id from builds where finished_at >= 5')).toContain('builds_finished_at');
      expect(plan('select 1 from versions where produced_by = 7')).toContain(
        'versions_produced_by',
      );
      expect(plan('select id from events where trace_root = 9')).toContain('events_trace_root');
      expect(plan('select * from events where processed_at is null order by id limit 5')).toBe(
        'SCAN events USING INDEX events_unprocessed',
      );
    } finally {
      raw.close();
    }
  });
});

/** Migration 0016 on a database that ran 0015: the index no query reads goes. */
describe('migration 0016-unread-fingerprint-index', () => {
  it('drops builds_fingerprint and keeps the other build indexes', async () => {
    const path = await migratedTo('0015-fewer-pages-per-event');
    const indexes = (): string[] => {
      const raw = new BetterSqlite3(path, { readonly: true });
      try {
        return (raw.pragma('index_list(builds)') as Array<{ name: string }>)
          .map((r) => r.name)
          .sort();
      } finally {
        raw.close();
      }
    };
    expect(indexes()).toContain('builds_fingerprint');

    const store = await openSqliteStore({ path });
    await store.close();

    expect(indexes()).toEqual([
      'builds_concurrency_group',
      'builds_finished_at',
      'builds_job',
      'builds_lease',
      'builds_state',
      'builds_trace_root',
    ]);
  });
});
