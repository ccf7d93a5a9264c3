import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from '../../src/app/data-dir-lock.js';
import { migrateStore, TargetNotEmptyError } from '../../src/app/migrate-store.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import type { Store } from '../../src/store/ports.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { runCli } from '../cli/helpers/spawn-cli.js';

const PG = await postgresAvailable('the migrate-store tests');

/** Three builds of one job: two finished (one with an output), one still queued. */
async function history(store: Store): Promise<void> {
  await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
  for (const v of ['v1', 'v2', 'v3']) {
    await store.inbox.appendEvent({
      kind: 'source',
      source: 'app',
      version: v,
      ref: 'main',
      origin: 'webhook',
      deliveryId: `gh:${v}`,
      changedPaths: null,
      producedBy: null,
      receivedAt: 1_780_000_000_000,
    });
    const [event] = await store.scheduler.pendingEvents(1);
    if (!event) throw new Error('no event');
    const queue: Decision = {
      kind: 'queue-build',
      job: 'build',
      source: 'app',
      version: v,
      fingerprint: `fp-${v}`,
      definitionHash: 'def',
      inputs: [{ source: 'app', version: v, origin: 'webhook', eventId: event.id, ref: 'main' }],
      cause: { kind: 'version', source: 'app', version: v, eventId: event.id },
      forced: false,
      supersedes: [],
      cancels: [],
      concurrency: { group: 'build@main', limit: 1, supersede: true },
      rule: 'built',
      detail: 'build queued',
    };
    const { queued } = await store.scheduler.applyDecisions(event, [queue], 1_780_000_000_001);
    if (v === 'v3') break;
    await store.queue.claimNextBuild('local-1', 1_780_000_000_002);
    await store.queue.finishBuild(
      queued[0]!.id,
      {
        result: {
          state: 'passed',
          outputs: [
            {
              name: 'dist',
              digest: 'd'.repeat(64),
              files: [{ path: 'a.tgz', digest: 'f'.repeat(64), size: 3 }],
            },
          ],
          coverage: { lines: 81.25, branches: 70.5 },
          warnings: [],
        },
        logBytes: 120,
        outputEvents: [],
      },
      1_780_000_000_003,
    );
  }
  await store.access.createToken({
    name: 'ci',
    sha256: 'a'.repeat(64),
    scopes: ['read', 'trigger'],
    createdAt: 1,
    createdBy: 'bootstrap',
    expiresAt: null,
  });
}

describe.skipIf(!PG)('nightless migrate-store (SQLite → real PostgreSQL)', () => {
  let dir: string;
  let schema: string;
  let url: string;
  let sqliteView: { builds: unknown; outbox: unknown; events: unknown; installation: unknown };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-migrate-'));
    const store = await openSqliteStore({ path: join(dir, 'nightless.db') });
    await history(store);
    sqliteView = await view(store);
    await store.close();
    schema = uniqueSchema();
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  });
  afterAll(async () => {
    await dropSchema(schema);
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  async function view(store: Store) {
    return {
      builds: await store.read.listBuilds({ limit: 100 }),
      outbox: await store.outbox.outboxSince(0, 100),
      events: await store.read.getEvent(2),
      installation: await store.meta.get('installation-id'),
    };
  }

  it('refuses to read a data directory a server holds', async () => {
    const lock = await lockDataDir(dir);
    try {
      await expect(migrateStore({ from: dir, to: url })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await lock.release();
    }
  });

  it('copies every table with its ids, and the next ids follow the copied ones', async () => {
    const report = await migrateStore({ from: dir, to: url });
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    expect(rows).toMatchObject({
      builds: 3,
      events: 3,
      build_outputs: 2,
      artifacts: 2,
      api_tokens: 1,
    });

    const store = await openPostgresStore({ url });
    try {
      expect(await view(store)).toEqual(sqliteView);
      expect((await store.access.findTokenBySha256('a'.repeat(64)))?.name).toBe('ci');
      // Sequences moved past the copied ids: the next event and build get fresh numbers.
      const next = await store.inbox.appendEvent({
        kind: 'reconcile',
        receivedAt: 1_780_000_000_010,
      });
      expect(next.id).toBe(4);
      // A delivery id seen before the move is still recognised as a redelivery.
      const again = await store.inbox.appendEvent({
        kind: 'source',
        source: 'app',
        version: 'v1',
        ref: 'main',
        origin: 'webhook',
        deliveryId: 'gh:v1',
        changedPaths: null,
        producedBy: null,
        receivedAt: 1_780_000_000_011,
      });
      expect(again).toMatchObject({ id: 1, redelivery: true });
    } finally {
      await store.close();
    }
  });

  it('refuses a target that already holds data, and says so on the command line', async () => {
    await expect(migrateStore({ from: dir, to: url })).rejects.toBeInstanceOf(TargetNotEmptyError);
    const r = await runCli(['migrate-store', '--from', dir, '--to', url], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not empty \(table \w+ has \d+ rows?\)/);
  });

  it('refuses a data directory without a store', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'nightless-migrate-empty-'));
    try {
      await expect(migrateStore({ from: empty, to: url })).rejects.toThrow(/no nightless.db in it/);
    } finally {
      await rm(empty, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
