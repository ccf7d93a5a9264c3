import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/core/event.js';
import type { Store } from '../../src/store/ports.js';
import { openPostgresStore, quoteIdent } from '../../src/store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { advanceHead, eventFor, queueBuild, sha, skip } from '../conformance/store/fixtures.js';

const PG = await postgresAvailable('the decision writer id tests');

/** One event: a new head and one queued build; the ids the store gave them. */
async function decide(store: Store, v: number): Promise<{ build: number; version: number }> {
  const e = await eventFor(store, sha(v));
  const a = await store.scheduler.applyDecisions(
    e,
    [advanceHead(e.version), queueBuild(`fp${v}`, e.version)],
    1000 + v,
  );
  return { build: a.queued[0]!.id, version: a.heads[0]!.seq };
}

/** Deletes the newest build and version as retention or an operator might. */
const DELETE_NEWEST = [
  'delete from build_inputs where build_id = (select max(id) from builds)',
  'delete from outbox where build_id = (select max(id) from builds)',
  'delete from decisions where build_id = (select max(id) from builds)',
  'delete from builds where id = (select max(id) from builds)',
  'delete from heads where version_id = (select max(id) from versions)',
  'delete from versions where id = (select max(id) from versions)',
];

// The decision writer reserves the ids of the rows it inserts before sending the inserts (so
// that nothing waits for an insert's answer). An id, once given, is never given again — also
// after the row is deleted — on either backend, as with the database's own key generation.
describe('decision writer: reserved ids', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('SQLite: never reuses the id of a deleted newest build or version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-ids-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
    const path = join(dir, 'nightless.db');
    const store = await openSqliteStore({ path });
    cleanup.push(() => store.close());
    const first = await decide(store, 1);
    const second = await decide(store, 2);
    const raw = new Database(path);
    for (const s of DELETE_NEWEST) raw.prepare(s).run();
    raw.close();
    const third = await decide(store, 3);
    expect(second.build).toBeGreaterThan(first.build);
    expect(third.build).toBe(second.build + 1);
    expect(third.version).toBe(second.version + 1);
    expect((await store.read.getBuild(third.build))?.fingerprint).toBe('fp3');
  });

  it('SQLite: several events in one batch get distinct, consecutive ids, and the next batch continues', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-ids-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
    const store = await openSqliteStore({ path: join(dir, 'nightless.db') });
    cleanup.push(() => store.close());
    const first = await decide(store, 1);
    const events: SourceEvent[] = [];
    for (const v of [2, 3, 4]) events.push(await eventFor(store, sha(v)));
    // Each event: a new head, a queued build, and a second build recorded as skipped.
    const applied = await store.scheduler.batchDecisions(async (w) => {
      const out = [];
      for (const [i, e] of events.entries())
        out.push(
          await w.applyDecisions(
            e,
            [
              advanceHead(e.version),
              queueBuild(`fpq${i}`, e.version),
              skip(`fps${i}`, e.version, first.build),
            ],
            2000 + i,
          ),
        );
      return out;
    });
    const builds = applied.flatMap((a) => [...a.queued, ...a.skipped].map((b) => b.id));
    const versions = applied.flatMap((a) => a.heads.map((h) => h.seq));
    const expected = (from: number, n: number): number[] =>
      Array.from({ length: n }, (_, i) => from + i);
    expect(builds).toEqual(expected(first.build + 1, 6));
    expect(versions).toEqual(expected(first.version + 1, 3));
    for (const [i, a] of applied.entries()) {
      expect((await store.read.getBuild(a.queued[0]!.id))?.fingerprint).toBe(`fpq${i}`);
      expect((await store.read.getBuild(a.skipped[0]!.id))?.fingerprint).toBe(`fps${i}`);
    }
    const next = await decide(store, 5);
    expect(next).toEqual({ build: first.build + 7, version: first.version + 4 });
  });

  it.skipIf(!PG)('PostgreSQL: the same, with ids from the sequences', async () => {
    const schema = uniqueSchema();
    cleanup.push(() => dropSchema(schema));
    const store = await openPostgresStore({ url: TEST_PG_URL, schema });
    cleanup.push(() => store.close());
    const first = await decide(store, 1);
    const second = await decide(store, 2);
    const client = new pg.Client({
      connectionString: TEST_PG_URL,
      connectionTimeoutMillis: 5000,
      query_timeout: 10_000,
      options: `-c search_path=${quoteIdent(schema)}`,
    });
    await client.connect();
    try {
      for (const s of DELETE_NEWEST) await client.query(s);
    } finally {
      await client.end();
    }
    const third = await decide(store, 3);
    expect(second.build).toBeGreaterThan(first.build);
    expect(third.build).toBeGreaterThan(second.build);
    expect(third.version).toBeGreaterThan(second.version);
    expect((await store.read.getBuild(third.build))?.fingerprint).toBe('fp3');
  });
});
