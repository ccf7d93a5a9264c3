import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/scheduler/index.js';
import { OutboxRelay } from '../../src/relay/outbox-relay.js';
import type { OutboxRecord, Store } from '../../src/store/ports.js';
import { quoteIdent } from '../../src/store/postgres/open-postgres-store.js';
import {
  openPostgresTestStore,
  postgresAvailable,
  TEST_PG_URL,
  type PostgresTestStore,
} from '../../src/testing/postgres-fixture.js';

/**
 * Outbox ids on PostgreSQL must become visible in increasing order, or a reader that keeps a
 * cursor (`id > cursor`: the relay, SSE, report targets) skips a row for good. These tests hold
 * one real store transaction open at a chosen point (a row lock another connection holds) while
 * another commits, and watch what the real relay publishes.
 */
const PG = await postgresAvailable('the outbox commit-order tests');

const event = (version: string) => ({
  kind: 'source' as const,
  source: 'app',
  version,
  ref: 'main',
  origin: 'webhook' as const,
  deliveryId: null,
  changedPaths: null,
  producedBy: null,
  receivedAt: 1000,
});

function queueDecision(
  job: string,
  version: string,
  eventId: number,
  supersedes: readonly number[],
): Decision {
  return {
    kind: 'queue-build',
    job,
    source: 'app',
    version,
    fingerprint: `${job}-${version}`,
    definitionHash: 'def',
    inputs: [{ source: 'app', version, origin: 'webhook', eventId, ref: 'main' }],
    cause: { kind: 'version', source: 'app', version, eventId },
    forced: false,
    supersedes: [...supersedes],
    cancels: [],
    concurrency: { group: job, limit: 1, supersede: true },
    rule: 'built',
    detail: 'build queued',
  };
}

/** Appends an event and applies `decide(eventId)` in one store transaction; the built ids. */
async function decide(
  store: Store,
  version: string,
  decisions: (eventId: number) => Decision[],
): Promise<number[]> {
  const { id } = await store.inbox.appendEvent(event(version));
  const [e] = await store.scheduler.pendingEvents(1);
  if (e?.id !== id) throw new Error('the event is not the oldest pending');
  const { queued } = await store.scheduler.applyDecisions(e, decisions(id), 1000);
  return queued.map((b) => b.id);
}

/** Polls PostgreSQL until a session of `schema`'s store waits for a lock (bounded). */
async function untilSomeoneWaits(admin: pg.Client): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query<{ n: string }>(
      `select count(*) as n from pg_locks where not granted`,
    );
    if (Number(rows[0]?.n) > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no transaction started waiting within 5 s');
}

describe.skipIf(!PG)(
  'outbox ids commit in order on PostgreSQL (real PostgreSQL, real relay)',
  () => {
    const opened: PostgresTestStore[] = [];
    const clients: pg.Client[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.end().catch(() => undefined);
      for (const s of opened.splice(0)) await s.dispose();
    });

    it('relays the row of a transaction that was still open when a later one committed', async () => {
      const t = await openPostgresTestStore();
      opened.push(t);
      const { store, schema } = t;
      await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
      const [x, y] = await decide(store, 'v1', (id) => [
        queueDecision('x', 'v1', id, []),
        queueDecision('y', 'v1', id, []),
      ]);

      const published: OutboxRecord[] = [];
      const relay = new OutboxRelay({
        outbox: store.outbox,
        bus: { publish: (_topic, r) => void published.push(r as OutboxRecord) },
        startAfter: await store.read.lastOutboxId(),
        logger: pino({ level: 'silent' }),
      });

      // Another connection holds build x's row: transaction A below writes its `queued` outbox
      // row for x2, then waits to supersede x — still open, its outbox row not committed.
      const holder = new pg.Client({
        connectionString: TEST_PG_URL,
        connectionTimeoutMillis: 5000,
      });
      clients.push(holder);
      await holder.connect();
      await holder.query('begin');
      await holder.query(`select id from ${quoteIdent(schema)}.builds where id = $1 for update`, [
        x,
      ]);
      const admin = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
      clients.push(admin);
      await admin.connect();

      const a = decide(store, 'v2', (id) => [queueDecision('x', 'v2', id, [x!])]);
      await untilSomeoneWaits(admin);
      // Transaction B commits while A is open: y is cancelled.
      expect((await store.queue.cancelQueuedBuild(y!, 'cancelled by test', 2000))?.state).toBe(
        'cancelled',
      );
      relay.wake();
      await relay.idle();
      expect(published.map((r) => `${r.type} ${r.buildId}`)).toEqual([`cancelled ${y}`]);

      // A commits; the relay must still see its rows, though it has already moved past B's.
      await holder.query('rollback');
      const [x2] = await a;
      relay.wake();
      await relay.idle();
      await relay.stop();
      expect(published.map((r) => `${r.type} ${r.buildId}`)).toEqual([
        `cancelled ${y}`,
        `queued ${x2}`,
        `superseded ${x}`,
      ]);
      // What any cursor reader sees: ids increasing, each row once.
      const ids = published.map((r) => r.id);
      expect([...ids].sort((p, q) => p - q)).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('loses no row when claims, cancels and scheduler batches of two stores commit concurrently', async () => {
      const t = await openPostgresTestStore({ maxConnections: 4 });
      opened.push(t);
      const other = await openPostgresTestStore({ schema: t.schema, maxConnections: 4 });
      const { store } = t;
      await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
      const published: OutboxRecord[] = [];
      const relay = new OutboxRelay({
        outbox: store.outbox,
        bus: { publish: (_topic, r) => void published.push(r as OutboxRecord) },
        startAfter: await store.read.lastOutboxId(),
        logger: pino({ level: 'silent' }),
      });
      let writing = true;
      // The relay reads as fast as it can the whole time, as a busy leader would.
      const reading = (async () => {
        while (writing) {
          relay.wake();
          await relay.idle();
        }
      })();
      const rounds = 30;
      await Promise.all([
        (async () => {
          for (let i = 0; i < rounds; i++)
            await decide(store, `v${i}`, (id) =>
              Array.from({ length: 5 }, (_, j) => queueDecision(`j${j}`, `v${i}`, id, [])),
            );
        })(),
        ...[store, other.store].map(async (s, w) => {
          for (let i = 0; i < rounds * 3; i++) {
            const b = await s.queue.claimNextBuild(`w${w}`, 2000);
            if (b === null) await new Promise((r) => setTimeout(r, 2));
          }
        }),
      ]);
      writing = false;
      await reading;
      relay.wake();
      await relay.idle();
      await relay.stop();
      await other.store.close();
      const all = await store.outbox.outboxSince(0, 100_000);
      expect(all.length).toBeGreaterThan(rounds * 5);
      expect(published.map((r) => r.id)).toEqual(all.map((r) => r.id));
    }, 60_000);
  },
);
