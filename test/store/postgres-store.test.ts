import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/scheduler/index.js';
import type { Store } from '../../src/store/ports.js';
import { redactDatabaseUrl } from '../../src/store/postgres/database-url.js';
import { openPostgresStore, quoteIdent } from '../../src/store/postgres/open-postgres-store.js';
import { parseInt8 } from '../../src/store/postgres/pg-types.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';

const PG = await postgresAvailable('the PostgreSQL store tests');

async function queueBuilds(store: Store, n: number): Promise<number[]> {
  await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
  await store.inbox.appendEvent({
    kind: 'source',
    source: 'app',
    version: 'v1',
    ref: 'main',
    origin: 'webhook',
    deliveryId: null,
    changedPaths: null,
    producedBy: null,
    receivedAt: 1000,
  });
  const [event] = await store.scheduler.pendingEvents(1);
  if (!event) throw new Error('no event');
  const decisions: Decision[] = Array.from({ length: n }, (_, i) => ({
    kind: 'queue-build',
    job: `job${i}`,
    source: 'app',
    version: 'v1',
    fingerprint: `fp${i}`,
    definitionHash: 'def',
    inputs: [{ source: 'app', version: 'v1', origin: 'webhook', eventId: event.id, ref: 'main' }],
    cause: { kind: 'version', source: 'app', version: 'v1', eventId: event.id },
    forced: false,
    supersedes: [],
    cancels: [],
    concurrency: { group: `job${i}`, limit: 1, supersede: true },
    rule: 'built',
    detail: 'build queued',
  }));
  const { queued } = await store.scheduler.applyDecisions(event, decisions, 1000);
  return queued.map((b) => b.id);
}

describe.skipIf(!PG)('PostgreSQL store (real PostgreSQL)', () => {
  const schemas: string[] = [];
  const stores: Store[] = [];
  const clients: pg.Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    for (const s of stores.splice(0)) await s.close();
    for (const s of schemas.splice(0)) await dropSchema(s);
  });
  const open = async (schema: string, statementTimeoutMs = 30_000) => {
    const store = await openPostgresStore({ url: TEST_PG_URL, schema, statementTimeoutMs });
    stores.push(store);
    return store;
  };
  const fresh = () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    return schema;
  };

  it('passes over a build another transaction holds instead of waiting for it (SKIP LOCKED)', async () => {
    const schema = fresh();
    // A claimer that waited on the lock would hit this bound and fail the test.
    const store = await open(schema, 2000);
    const [first, second] = await queueBuilds(store, 2);
    const holder = new pg.Client({ connectionString: TEST_PG_URL });
    clients.push(holder);
    await holder.connect();
    await holder.query('begin');
    await holder.query(`select id from ${quoteIdent(schema)}.builds where id = $1 for update`, [
      first,
    ]);
    const claimed = await store.queue.claimNextBuild('w1', 2000);
    expect(claimed?.id).toBe(second);
    // The held build is still there for the next claimer once the other transaction ends.
    expect(await store.queue.claimNextBuild('w2', 2000)).toBeNull();
    await holder.query('rollback');
    expect((await store.queue.claimNextBuild('w2', 2000))?.id).toBe(first);
  });

  it('migrates once when several servers open the same empty schema together', async () => {
    const schema = fresh();
    const opened = await Promise.all([open(schema), open(schema), open(schema)]);
    expect(opened).toHaveLength(3);
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    clients.push(client);
    await client.connect();
    const { rows } = await client.query<{ name: string; n: string }>(
      `select name, count(*) as n from ${quoteIdent(schema)}.kysely_migration group by name`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(rows.every((r) => r.n === '1')).toBe(true);
    // Every server reads the one installation id the first migration wrote.
    const ids = await Promise.all(opened.map((s) => s.meta.get('installation-id')));
    expect(new Set(ids).size).toBe(1);
  });

  it('gives 64-bit columns back as numbers: ids, millisecond timestamps, counts', async () => {
    const store = await open(fresh());
    const [id] = await queueBuilds(store, 1);
    const now = 1_780_000_000_123;
    await store.queue.claimNextBuild('w', now);
    const build = await store.read.getBuild(id!);
    expect(build?.id).toBe(id);
    expect(build?.startedAt).toBe(now);
    expect(typeof build?.queuedAt).toBe('number');
  });

  it('refuses a bigint past the safe integer range instead of rounding it', () => {
    expect(parseInt8('9007199254740991')).toBe(9007199254740991);
    expect(() => parseInt8('9007199254740993')).toThrow(/outside the safe integer range/);
  });

  it('says where it could not connect, without the password', async () => {
    const url = 'postgres://nightless:s3cret@127.0.0.1:1/nightless';
    const err = await openPostgresStore({ url, connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/connecting to postgres:\/\/nightless:\*\*\*@127/);
    expect((err as Error).message).not.toContain('s3cret');
    expect(redactDatabaseUrl('postgres://u:pw@h/db')).toBe('postgres://u:***@h/db');
  });

  it('rejects a URL that is not PostgreSQL before connecting', async () => {
    await expect(openPostgresStore({ url: 'mysql://u@h/db' })).rejects.toThrow(
      /must start with postgres:\/\//,
    );
  });
});
